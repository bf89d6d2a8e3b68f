#!/bin/bash
# Slurm Epilog for greenslot plans: restores the default GPU power limit after a job that the
# prolog (greenslot-prolog.sh) limited. Runs as root on each node of the job when it ends.
#
# It restores each GPU's own default limit (nvidia-smi power.default_limit) rather than a value
# remembered at job start, so a node stays correct even when a prolog or epilog was skipped
# (slurmd restart, node reboot). Like the prolog it never fails: an epilog error drains the
# node. GREENSLOT_NVIDIA_SMI and GREENSLOT_SCONTROL override the commands (for tests).
set -u
NVIDIA_SMI=${GREENSLOT_NVIDIA_SMI:-nvidia-smi}
SCONTROL=${GREENSLOT_SCONTROL:-scontrol}

log() { logger -t greenslot-epilog -- "$*" 2>/dev/null || echo "greenslot-epilog: $*" >&2; }

comment=${SLURM_JOB_COMMENT:-}
if [[ -z $comment && -n ${SLURM_JOB_ID:-} ]]; then
  comment=$("$SCONTROL" -o show job "$SLURM_JOB_ID" 2>/dev/null |
    grep -o 'Comment=greenslot:[^ ]*' | head -1)
  comment=${comment#Comment=}
fi
[[ $comment == greenslot:* ]] || exit 0
[[ $comment == *gpu_freq_mhz=* ]] && exit 0
[[ $comment == *power_limit_w=* ]] || exit 0
gpus=${SLURM_JOB_GPUS:-}
[[ -n $gpus ]] || exit 0
command -v "$NVIDIA_SMI" >/dev/null 2>&1 || exit 0
IFS=, read -ra ids <<<"$gpus"
for id in "${ids[@]}"; do
  [[ $id =~ ^[0-9]+$ ]] || continue
  default=$("$NVIDIA_SMI" -i "$id" --query-gpu=power.default_limit --format=csv,noheader,nounits \
    2>/dev/null | head -1 | tr -d ' ')
  if [[ $default =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
    "$NVIDIA_SMI" -i "$id" -pl "$default" >/dev/null 2>&1 ||
      log "job ${SLURM_JOB_ID:-?}: nvidia-smi -i $id -pl $default failed"
  else
    log "job ${SLURM_JOB_ID:-?}: no default power limit for GPU $id"
  fi
done
exit 0
