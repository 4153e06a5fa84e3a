#!/usr/bin/env bash
# What `npm run bench` needs beyond the test peers: wrk, the load generator (C, multi-threaded,
# so it takes little of this 2-core machine from the servers it measures). Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bench: wrk is missing; install it (apt-get install wrk)" >&2
    exit 1
  fi
  echo "bench: installing wrk" >&2
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends wrk </dev/null >/dev/null
fi
