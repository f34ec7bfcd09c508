#!/usr/bin/env bash
# Re-lock the dependency tree (every version pinned, every file hashed) after pyproject.toml's
# dependencies changed, and write the requirement files the installs use:
#
#   uv.lock                    the whole tree, every extra and group, all platforms (uv's lock)
#   requirements/runtime.txt   the services' dependencies: the image (Dockerfile)
#   requirements/dev.txt       runtime + the dev and containers extras: scripts/setup.sh, CI
#   requirements/build.txt     what builds the project's wheel (setuptools): the image
#
#   bash scripts/lock.sh                         # re-lock, keeping every pin that still fits
#   bash scripts/lock.sh --upgrade               # move every package to its newest allowed version
#   bash scripts/lock.sh --upgrade-package NAME  # move one package (repeatable)
#
# Then run scripts/setup.sh to install the new lock. tests/test_lock.py fails while pyproject.toml
# and the lock disagree. uv comes from the dev lock (.venv/bin/uv); on a machine without it yet,
# it is installed into .venv-tools first.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x .venv/bin/uv ]; then
  UV=.venv/bin/uv
else
  [ -x .venv-tools/bin/python ] || python3 -m venv .venv-tools
  .venv-tools/bin/python -m pip install -q uv
  UV=.venv-tools/bin/uv
fi

"$UV" lock "$@"
export_to() {
  local out=$1
  shift
  "$UV" export --frozen --format requirements-txt --no-emit-project --no-header \
    --output-file "$out" "$@" >/dev/null
}
export_to requirements/runtime.txt --no-default-groups
export_to requirements/dev.txt --no-default-groups --extra dev --extra containers
export_to requirements/build.txt --no-default-groups --only-group build
echo "locked: uv.lock, requirements/runtime.txt, requirements/dev.txt, requirements/build.txt"
