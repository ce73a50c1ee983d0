#!/usr/bin/env bash
# Install the Debian packages the engine and its tests need, only those that are missing.
# Runs as root on Debian (the README's fresh machine); elsewhere it says what to install.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
have debootstrap || need+=(debootstrap)
have sipp || need+=(sip-tester)
have espeak-ng || need+=(espeak-ng)
have sox || need+=(sox)
have haproxy || need+=(haproxy)
have ip || need+=(iproute2)  # the cluster tests' hosts: network namespaces
# Reports and reminder letters as PDF (WeasyPrint: Pango), in Chinese (a CJK font).
dpkg -s libpangoft2-1.0-0 >/dev/null 2>&1 || need+=(libpangoft2-1.0-0)
{ have fc-list && fc-list :lang=zh | grep -q .; } || need+=(fontconfig fonts-wqy-microhei)
have chromium || need+=(chromium)
have node || need+=(nodejs)
have npm || need+=(npm)
have make || need+=(make)
have mount || need+=(mount)
if [ "${1:-}" = "--services" ]; then
  have redis-server || have redis-cli || need+=(redis-server)
  have pg_ctlcluster || need+=(postgresql)
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! have apt-get; then
  echo "missing system packages: ${need[*]} — install them (Debian: apt-get install ${need[*]}) and run again" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || { echo "apt-get update failed: no network or broken apt sources" >&2; exit 1; }
apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null \
  || { echo "apt-get install ${need[*]} failed" >&2; exit 1; }
