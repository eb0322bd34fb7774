#!/usr/bin/env bash
# Stop the single-node Slurm cluster started by scripts/slurm-up.sh (jobs are cancelled).
#   scripts/slurm-down.sh               # stop slurmrestd, slurmd, slurmctld and munged
#   scripts/slurm-down.sh --keep-munge  # leave munged running (used by slurm-up on restart)
#   scripts/slurm-down.sh --purge       # also delete saved state, logs and the config
# Only daemons recorded in our pid files are stopped. Idempotent.
set -uo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
RUN=/run/slurm
keep_munge=0; purge=0
for a in "$@"; do
  case "$a" in
    --keep-munge) keep_munge=1 ;;
    --purge) purge=1 ;;
    *) echo "usage: $0 [--keep-munge] [--purge]" >&2; exit 2 ;;
  esac
done

stop_pidfile() {  # stop_pidfile FILE NAME: TERM, wait up to 5 s, then KILL
  local f=$1 name=$2 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    $SUDO kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && $SUDO kill -9 "$pid" 2>/dev/null
    echo "slurm-down: stopped $name ($pid)"
  fi
  $SUDO rm -f "$f"
}

if command -v scancel >/dev/null && scontrol ping 2>/dev/null | grep -q "is UP"; then
  scancel --full --quiet --state=PENDING,RUNNING,SUSPENDED 2>/dev/null || true
  scancel --quiet --user="$(id -un)" 2>/dev/null || true
fi
stop_pidfile "$RUN/slurmrestd.pid" slurmrestd
stop_pidfile "$RUN/slurmd.pid" slurmd
stop_pidfile "$RUN/slurmctld.pid" slurmctld
if [ "$keep_munge" = 0 ]; then
  stop_pidfile /run/munge/munged.pid munged
fi
if [ "$purge" = 1 ]; then
  $SUDO rm -rf /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm /etc/slurm/slurm.conf
  echo "slurm-down: purged state, logs and configuration"
fi
exit 0
