#!/usr/bin/env bash
# Prints the path of a kcat binary, installing Debian's kcat package when it is missing.
# Exits 1 with the reason on stderr when kcat is not available and cannot be installed
# (not Debian-like, no root, no network); the kcat tests then skip with that reason.
# Usage: scripts/kcat.sh
set -uo pipefail

if path=$(command -v kcat 2>/dev/null); then
  echo "$path"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "kcat is not installed and there is no apt-get to install it with" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
  else
    echo "kcat is not installed and installing it needs root (apt-get install kcat)" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! $sudo apt-get install -y -q kcat >"$log" 2>&1; then
  # The package lists may be missing or stale (a fresh container): refresh and retry.
  if ! { $sudo apt-get update -q && $sudo apt-get install -y -q kcat; } >"$log" 2>&1; then
    echo "apt-get install kcat failed: $(tail -n 1 "$log")" >&2
    exit 1
  fi
fi
if path=$(command -v kcat 2>/dev/null); then
  echo "$path"
  exit 0
fi
echo "apt-get installed kcat but it is not on PATH" >&2
exit 1
