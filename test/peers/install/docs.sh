#!/usr/bin/env bash
# Installs what the guides use besides the peers (test/docs/guides.test.ts runs them as a reader
# would): curl, jq and openssl. Idempotent, non-interactive, quick when all are present.
set -euo pipefail
export CI=true DEBIAN_FRONTEND=noninteractive

missing=()
for tool in curl jq openssl; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "docs tools: need root to apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "docs tools: installing ${missing[*]}" >&2
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
fi
