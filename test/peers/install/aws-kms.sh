#!/usr/bin/env bash
# Installs the AWS KMS peer: LocalStack (community core, run in host mode as a plain Python
# process) into its own virtualenv, outside the repo. Idempotent, non-interactive, quick when
# already installed.
#
# Why a pinned venv rather than `pip install localstack-core[runtime]` into python3:
# - localstack-core 2026.x and 4.14 declare Python >= 3.10 but use 3.12/3.13-only syntax and
#   modules (PEP 695 generics in the KMS provider, warnings.deprecated); on the 3.11
#   interpreter of Debian bookworm (and this machine) KMS cannot load. 4.13.1 is the newest
#   release that compiles on 3.11.
# - Its open-ended requirements now resolve to releases it predates:
#   cbor2 6 (no cbor2._decoder), pyOpenSSL 26 (no X509.add_extensions), and the Twisted fork
#   needs service_identity. The pins below are the newest that work.
# - A venv keeps these pins away from whatever else uses the system interpreter.
set -euo pipefail
export CI=true DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1

VERSION="${WFID_LOCALSTACK_VERSION:-4.13.1}"
HOME_DIR="${WFID_LOCALSTACK_HOME:-$HOME/.cache/wfid-localstack}"
VENV="$HOME_DIR/venv-$VERSION"
PYTHON="$VENV/bin/python"

if [ -x "$PYTHON" ] && [ -f "$VENV/.installed" ] &&
  "$PYTHON" -c 'import localstack.aws.components, localstack.services.kms.provider' >/dev/null 2>&1; then
  exit 0
fi

echo "aws-kms peer: installing LocalStack $VERSION into $VENV" >&2
mkdir -p "$HOME_DIR"
rm -rf "$VENV"
if ! python3 -m venv "$VENV" 2>/dev/null; then
  # Debian's python3 ships venv separately.
  if [ "$(id -u)" -ne 0 ]; then
    echo "aws-kms peer: python3 -m venv failed; need root to apt-get install python3-venv" >&2
    exit 1
  fi
  apt-get update -q >/dev/null
  apt-get install -y -q python3-venv python3-pip >/dev/null
  rm -rf "$VENV"
  python3 -m venv "$VENV"
fi
"$PYTHON" -m pip install -q --upgrade pip </dev/null
"$PYTHON" -m pip install -q \
  "localstack-core[runtime]==$VERSION" \
  'cbor2>=5.5,<6' \
  'pyopenssl>=25.1,<26' \
  'cryptography>=45.0.7,<47' \
  service_identity </dev/null
"$PYTHON" -c 'import localstack.aws.components, localstack.services.kms.provider' # fails loudly if the runtime cannot load
touch "$VENV/.installed"
echo "aws-kms peer: LocalStack $VERSION ready ($PYTHON)" >&2
