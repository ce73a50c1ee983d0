#!/usr/bin/env bash
# Install the console's front-end packages from npm (JsSIP, Socket.IO client) and bundle them.
# The bundle goes to var/frontend/ (git-ignored); nothing third-party is committed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
  echo "npm is missing: install Debian's nodejs and npm (make setup does it) and run again" >&2
  exit 1
fi
out=var/frontend/console-vendor.js
entry=agent_console/static/vendor-entry.js
# Skip the work when the bundle is newer than the lock file and the entry.
if [ -f "$out" ] && [ -d node_modules/jssip ] && [ "$out" -nt package-lock.json ] && [ "$out" -nt package.json ] && [ "$out" -nt "$entry" ]; then
  exit 0
fi
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  # No "resolved" URLs in the lock file: it names packages and hashes, never a registry host.
  npm install --no-audit --no-fund --loglevel=error --omit-lockfile-registry-resolved
fi
mkdir -p var/frontend
node_modules/.bin/esbuild "$entry" --bundle --minify --format=iife --target=es2019 \
  --outfile="$out" --log-level=warning
echo "console front-end bundled: $out"
