#!/bin/bash
# Slurm Prolog for greenslot plans: applies the GPU power limit greenslot planned for a job.
#
# Install on every GPU node (slurm.conf):  Prolog=/etc/slurm/greenslot-prolog.sh
#                                          Epilog=/etc/slurm/greenslot-epilog.sh
# Slurm runs it as root on each node of the job before the job starts. greenslot submits each
# job with --comment=greenslot:plan=<id>,power_limit_w=<W>[,gpu_freq_mhz=<MHz>]; this script
# sets `nvidia-smi -pl <W>` on the GPUs Slurm gave the job (SLURM_JOB_GPUS). Jobs without that
# tag, and clock modes (gpu_freq_mhz, which Slurm applies itself via --gpu-freq), are left
# alone. It never fails the job: a non-zero prolog drains the node, which costs more than a
# job at its default limit, so problems are logged (syslog tag greenslot-prolog) instead.
#
# GREENSLOT_NVIDIA_SMI and GREENSLOT_SCONTROL override the commands (for tests).
set -u
NVIDIA_SMI=${GREENSLOT_NVIDIA_SMI:-nvidia-smi}
SCONTROL=${GREENSLOT_SCONTROL:-scontrol}

log() { logger -t greenslot-prolog -- "$*" 2>/dev/null || echo "greenslot-prolog: $*" >&2; }

# The job's comment: SLURM_JOB_COMMENT where Slurm exports it, else scontrol.
comment=${SLURM_JOB_COMMENT:-}
if [[ -z $comment && -n ${SLURM_JOB_ID:-} ]]; then
  comment=$("$SCONTROL" -o show job "$SLURM_JOB_ID" 2>/dev/null |
    grep -o 'Comment=greenslot:[^ ]*' | head -1)
  comment=${comment#Comment=}
fi
[[ $comment == greenslot:* ]] || exit 0
[[ $comment == *gpu_freq_mhz=* ]] && exit 0
limit=$(grep -o 'power_limit_w=[0-9.]*' <<<"$comment" | head -1 | cut -d= -f2)
[[ $limit =~ ^[0-9]+(\.[0-9]+)?$ ]] || { log "job ${SLURM_JOB_ID:-?}: no power limit in '$comment'"; exit 0; }
gpus=${SLURM_JOB_GPUS:-}
[[ -n $gpus ]] || exit 0
if ! command -v "$NVIDIA_SMI" >/dev/null 2>&1; then
  log "job ${SLURM_JOB_ID:-?}: $NVIDIA_SMI not found; power limit $limit W not applied"
  exit 0
fi
IFS=, read -ra ids <<<"$gpus"
for id in "${ids[@]}"; do
  [[ $id =~ ^[0-9]+$ ]] || continue
  "$NVIDIA_SMI" -i "$id" -pl "$limit" >/dev/null 2>&1 ||
    log "job ${SLURM_JOB_ID:-?}: nvidia-smi -i $id -pl $limit failed"
done
exit 0
