#!/bin/bash
# Slurm Epilog for greenslot plans: restores the default GPU power limit when a job ends.
# Runs as root on each node of the job when it ends.
#
# Why every job, whatever its comment: the comment can change after the prolog ran (the job's
# owner may edit it with scontrol update, and sync re-tags pending jobs), and scontrol may not
# answer; a limit left behind would slow every later job on the GPU. So the epilog restores each
# GPU of the job (SLURM_JOB_GPUS) to its own default limit (nvidia-smi power.default_limit),
# and calls -pl only where the current power.limit differs. It never reads a value remembered
# at job start, so a node stays correct even when a prolog or epilog was skipped (slurmd
# restart, node reboot). Like the prolog it never fails: an epilog error drains the node.
# GREENSLOT_NVIDIA_SMI overrides the command (for tests).
set -u
NVIDIA_SMI=${GREENSLOT_NVIDIA_SMI:-nvidia-smi}

log() { logger -t greenslot-epilog -- "$*" 2>/dev/null || echo "greenslot-epilog: $*" >&2; }

gpus=${SLURM_JOB_GPUS:-}
[[ -n $gpus ]] || exit 0
command -v "$NVIDIA_SMI" >/dev/null 2>&1 || exit 0
IFS=, read -ra ids <<<"$gpus"
for id in "${ids[@]}"; do
  [[ $id =~ ^[0-9]+$ ]] || continue
  line=$("$NVIDIA_SMI" -i "$id" --query-gpu=power.default_limit,power.limit \
    --format=csv,noheader,nounits 2>/dev/null | head -1 | tr -d ' ')
  default=${line%%,*}
  current=
  [[ $line == *,* ]] && current=${line#*,}
  if [[ ! $default =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
    log "job ${SLURM_JOB_ID:-?}: no default power limit for GPU $id"
    continue
  fi
  # Equal already (the usual case for jobs greenslot did not limit): nothing to do.
  [[ $current =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v a="$default" -v b="$current" \
    'BEGIN { exit !(a == b) }' && continue
  "$NVIDIA_SMI" -i "$id" -pl "$default" >/dev/null 2>&1 ||
    log "job ${SLURM_JOB_ID:-?}: nvidia-smi -i $id -pl $default failed"
done
exit 0
