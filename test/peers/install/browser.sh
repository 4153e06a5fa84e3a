#!/usr/bin/env bash
# Installs headless Chromium from the Debian package for the console's browser tests
# (test/e2e/console.test.ts drives /usr/bin/chromium through playwright-core).
# Idempotent, non-interactive, quick when it is present.
set -euo pipefail
export CI=true DEBIAN_FRONTEND=noninteractive

if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "browser peer: need root to apt-get install chromium" >&2
  exit 1
fi
echo "browser peer: installing chromium" >&2
apt-get update -qq </dev/null
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core </dev/null >/dev/null
