#!/usr/bin/env bash
# Stop the loopback sshd of scripts/sshd-up.sh (only the one in our pid file). Idempotent.
#   scripts/sshd-down.sh [--purge]   # --purge also deletes its keys, config and the user
set -uo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
DIR=${TOSCA_SSHD_DIR:-/var/lib/tosca-test}
USER_NAME=${TOSCA_SSHD_USER:-toscauser}
if [ -f "$DIR/sshd.pid" ]; then
  pid=$(cat "$DIR/sshd.pid")
  if kill -0 "$pid" 2>/dev/null; then $SUDO kill "$pid" && echo "sshd-down: stopped sshd ($pid)"; fi
  $SUDO rm -f "$DIR/sshd.pid"
fi
if [ "${1:-}" = "--purge" ]; then
  $SUDO rm -rf "$DIR"
  id "$USER_NAME" >/dev/null 2>&1 && $SUDO userdel -r "$USER_NAME" 2>/dev/null
  echo "sshd-down: purged $DIR and user $USER_NAME"
fi
exit 0
