#!/usr/bin/env bash
# Debian packages the integration tests need: Slurm + munge (+ slurmrestd and its JWT
# plugin for the REST backend), OpenSSH server, Chromium and its WebDriver (the dashboard's
# browser test).
# Idempotent: does nothing when everything is installed already.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
pkgs=(slurm-wlm slurm-client munge slurmrestd slurm-wlm-jwt-plugin openssh-server openssh-client
  rsync chromium chromium-driver)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
