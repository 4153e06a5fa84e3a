#!/usr/bin/env bash
# Installs the shared-store peers: PostgreSQL and Redis from Debian packages, and (when run as
# root) the unprivileged user `wfidtest` that runs PostgreSQL, which refuses to run as root.
# Idempotent, non-interactive, quick when everything is present.
set -euo pipefail
export CI=true DEBIAN_FRONTEND=noninteractive

missing=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "stores peer: need root to apt-get install ${missing[*]}" >&2
    exit 1
  fi
  # The tests start their own clusters; don't let the package create and start a default one.
  mkdir -p /etc/postgresql-common
  grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf ||
    echo 'create_main_cluster = false' >>/etc/postgresql-common/createcluster.conf
  echo "stores peer: installing ${missing[*]}" >&2
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
fi

if [ "$(id -u)" -eq 0 ] && ! id -u wfidtest >/dev/null 2>&1; then
  echo "stores peer: creating system user wfidtest (PostgreSQL will not run as root)" >&2
  useradd --system --no-create-home --shell /usr/sbin/nologin wfidtest
fi
