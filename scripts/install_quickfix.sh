#!/usr/bin/env bash
# Install quickfix 1.16.0 into a virtualenv, compiling it at most once per machine.
#
# PyPI has only the sdist, and compiling it takes about six minutes on two cores. The wheel
# built the first time is kept in a wheelhouse outside the repository, keyed by Python
# version and platform; every later install on the machine takes it from there in seconds.
#
# usage: scripts/install_quickfix.sh VENV_DIR
set -euo pipefail

venv=${1:?usage: install_quickfix.sh VENV_DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
py="$venv/bin/python"

if "$py" -c 'import importlib.metadata as m, sys; sys.exit(m.version("quickfix") != "1.16.0")' 2>/dev/null; then
  exit 0
fi

tag=$("$py" -c 'import sys, sysconfig; print(f"cp{sys.version_info[0]}{sys.version_info[1]}-{sysconfig.get_platform()}")')
wheelhouse=${TRUEX_QF_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/truex-qf/wheels-$tag}
mkdir -p "$wheelhouse"

if ! ls "$wheelhouse"/quickfix-1.16.0-*.whl >/dev/null 2>&1; then
  echo "Building quickfix 1.16.0 from source (one time per machine, about 6 minutes)..." >&2
  sdist_dir=$(mktemp -d)
  trap 'rm -rf "$sdist_dir"' EXIT
  "$py" -m pip download --quiet --no-deps --no-binary :all: --require-hashes \
    -r "$here/requirements/quickfix.txt" -d "$sdist_dir"
  PIP_CONSTRAINT="$here/requirements/build-constraints.txt" \
    "$py" -m pip wheel --quiet --no-deps -w "$wheelhouse" "$sdist_dir"/quickfix-1.16.0.tar.gz
fi

"$py" -m pip install --quiet --no-index --find-links "$wheelhouse" quickfix==1.16.0
"$py" -c 'import quickfix, quickfix50sp2; quickfix.ThreadedSocketInitiator' \
  || { echo "quickfix installed but does not import" >&2; exit 1; }
