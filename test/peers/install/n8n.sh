#!/usr/bin/env bash
# Installs a real n8n (on the Node.js 24 it needs) into a cache dir outside the repo, for
# test/n8n. Quick when cached.
# Also installs the dependencies of integrations/n8n (its own node_modules).
set -euo pipefail
export CI=true
N8N_VERSION="${WFID_N8N_VERSION:-2.40.7}"
NODE_MAJOR=24
CACHE="${WFID_N8N_CACHE:-$HOME/.cache/wfid-n8n}"
REPO="$(cd "$(dirname "$0")/../../.." && pwd)"

# Node.js itself comes from the shared runtime cache (.ci/node.sh), with the headers that
# node-gyp needs for native modules.
NODE_HOME="$(bash "$REPO/.ci/node.sh" "$NODE_MAJOR")"
NODE_BIN="$NODE_HOME/bin/node"

N8N_DIR="$CACHE/n8n-$N8N_VERSION"
if ! [ -f "$N8N_DIR/.installed" ]; then
  echo "n8n peer: installing n8n@$N8N_VERSION into $N8N_DIR (takes minutes the first time)" >&2
  mkdir -p "$N8N_DIR"
  echo '{"private":true}' >"$N8N_DIR/package.json"
  # Install scripts are skipped: several optional native modules (Kafka's librdkafka) download
  # sources at build time, which fails offline. Only the native modules n8n needs to start
  # are built, from source, under Node 24 (its ABI) with the headers the registry shipped.
  N8N_NATIVE="${WFID_N8N_NATIVE:-sqlite3 isolated-vm}"
  export PATH="$(dirname "$NODE_BIN"):$PATH" npm_config_nodedir="$NODE_HOME"
  npm install --prefix "$N8N_DIR" --no-audit --no-fund --omit=dev --ignore-scripts \
    "n8n@$N8N_VERSION" </dev/null
  # shellcheck disable=SC2086
  (cd "$N8N_DIR" && npm rebuild --foreground-scripts $N8N_NATIVE </dev/null)
  touch "$N8N_DIR/.installed"
fi

# The integration package keeps its own node_modules (it is not part of the root build).
INTEGRATION="$REPO/integrations/n8n"
if [ -f "$INTEGRATION/package.json" ] && ! [ -d "$INTEGRATION/node_modules" ]; then
  echo "n8n peer: installing integrations/n8n dependencies" >&2
  (cd "$INTEGRATION" && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi) </dev/null
fi
