#!/usr/bin/env bash
# Installs the PKCS#11 peer: SoftHSM2 (the token the pkcs11 backend tests run against) and
# OpenSC's pkcs11-tool (tests use it to make a key pair "outside" the issuer, as a security
# team would). Idempotent, non-interactive, quick when both are present.
set -euo pipefail
export CI=true DEBIAN_FRONTEND=noninteractive

missing=()
[ -e /usr/lib/softhsm/libsofthsm2.so ] || missing+=(softhsm2)
command -v pkcs11-tool >/dev/null || missing+=(opensc)

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "pkcs11 peer: need root to apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "pkcs11 peer: installing ${missing[*]}" >&2
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
fi
