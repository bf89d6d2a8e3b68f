#!/bin/bash
# The nightly greenslot run: fetch -> plan against the live queue -> submit.
#
#   nightly.sh SCENARIO OUT_ROOT
#
# Writes the plan to OUT_ROOT/<UTC date>/ and appends everything it prints to
# OUT_ROOT/logs/<UTC date>.log, one "step" line per step with a UTC time stamp. Running it
# again the same night is safe: sync recognises the jobs already in Slurm, and submit skips
# every job in the plan's ledger or already queued under its tag.
#
# GREENSLOT_FETCH, if set, is an executable run first with SCENARIO as its only argument; it
# should refresh the scenario's forecast files. GREENSLOT_HISTORY, if set, is a duration
# history CSV (the scenario's duration_history, typically): before planning, the completed
# runs of the last three nights' plans are added to it with `greenslot ran --history`
# (needs slurmdbd; runs already there are not added twice). A failure there is logged and
# the night goes on: tonight's plan then learns from the runs the file already has. GREENSLOT (default: greenslot on PATH) is the
# command to run. Exit code: the failing step's (2 input, 3 infeasible, 4 Slurm, 70 internal),
# or 0.
set -uo pipefail
scenario=${1:?usage: nightly.sh SCENARIO OUT_ROOT}
out_root=${2:?usage: nightly.sh SCENARIO OUT_ROOT}
greenslot=${GREENSLOT:-greenslot}
night=$(date -u +%Y-%m-%d)
out="$out_root/$night"
mkdir -p "$out_root/logs"
exec >>"$out_root/logs/$night.log" 2>&1

step() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) step $*"; }
run() {
  local name=$1 rc
  shift
  step "$name: $*"
  "$@"
  rc=$?
  if ((rc != 0)); then
    step "$name FAILED (exit $rc); fix the cause above, then run nightly.sh again"
    exit "$rc"
  fi
}

if [[ -n ${GREENSLOT_FETCH:-} ]]; then
  run fetch "$GREENSLOT_FETCH" "$scenario"
fi
if [[ -n ${GREENSLOT_HISTORY:-} ]]; then
  # The three latest earlier nights (folders named by UTC date): a 48 h plan's jobs may end
  # the night after it was made.
  for past in $(ls -1d "$out_root"/????-??-?? 2>/dev/null | grep -v "/$night\$" | sort | tail -n 3); do
    step "history: $greenslot ran $scenario $past --history $GREENSLOT_HISTORY"
    if ! "$greenslot" ran "$scenario" "$past" --history "$GREENSLOT_HISTORY" >/dev/null; then
      step "history FAILED for $past; tonight's plan learns from what $GREENSLOT_HISTORY already has"
    fi
  done
fi
run sync "$greenslot" sync "$scenario" --out "$out" --apply
run submit "$greenslot" submit "$out"
step "done: plan in $out"
