#!/usr/bin/env bash
# Installs every real server the test suite talks to (LocalStack, OpenBao, SoftHSM2,
# PostgreSQL, Redis, ...). Each script in install/ is idempotent and quick when its peer
# is already present, so `npm test` can call this every time.
set -euo pipefail
cd "$(dirname "$0")/install"
for script in *.sh; do
  [ -e "$script" ] || continue
  echo "== peers: $script" >&2
  bash "$script"
done
