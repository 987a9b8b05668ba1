#!/usr/bin/env bash
# Install quickfix 1.16.0 into a virtualenv, compiling it at most once per machine.
#
# The build carries truex-qf's patches to the engine (scripts/patches/*.patch, each saying what it
# mends and why) and is versioned 1.16.0+truex.N, N counting the patch set: a machine that holds
# an older build (or plain 1.16.0) builds again once, and `pip show quickfix` says which it runs.
#
# PyPI has only the sdist. Compiling it costs 7.5 to 8 minutes of CPU (441-492 s measured), spread
# over every core by scripts/quickfix_build_ext.py: 2 to 4 minutes on two free cores. The wheel
# built the first time is kept in a wheelhouse outside the repository, keyed by Python
# version and platform; every later install on the machine takes it from there in seconds.
#
# usage: scripts/install_quickfix.sh VENV_DIR   (TRUEX_QF_BUILD_JOBS: compiler jobs, default all cores)
set -euo pipefail

venv=${1:?usage: install_quickfix.sh VENV_DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
py="$venv/bin/python"
jobs=${TRUEX_QF_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}
[[ $jobs =~ ^[1-9][0-9]*$ ]] \
  || { echo "error: TRUEX_QF_BUILD_JOBS must be a whole number of compiler jobs, 1 or more, not '$jobs'" >&2; exit 2; }

version=1.16.0+truex.1  # raise N whenever scripts/patches changes
if "$py" -c 'import importlib.metadata as m, sys; sys.exit(m.version("quickfix") != sys.argv[1])' "$version" 2>/dev/null; then
  exit 0
fi

tag=$("$py" -c 'import sys, sysconfig; print(f"cp{sys.version_info[0]}{sys.version_info[1]}-{sysconfig.get_platform()}")')
wheelhouse=${TRUEX_QF_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/truex-qf/wheels-$tag}
mkdir -p "$wheelhouse"

if ! ls "$wheelhouse"/quickfix-"$version"-*.whl >/dev/null 2>&1; then
  echo "Building quickfix $version from source, $jobs files at a time (once per machine: 2 to 4 minutes on two free cores)..." >&2
  sdist_dir=$(mktemp -d)
  trap 'rm -rf "$sdist_dir"' EXIT
  "$py" -m pip download --quiet --no-deps --no-binary :all: --require-hashes \
    -r "$here/requirements/quickfix.txt" -d "$sdist_dir"
  # setuptools compiles an extension's files one at a time; quickfix_build_ext.py compiles them
  # on every core. It is added to the unpacked (hash-checked) sdist through its setup.cfg.
  tar -xzf "$sdist_dir/quickfix-1.16.0.tar.gz" -C "$sdist_dir"
  src="$sdist_dir/quickfix-1.16.0"
  for fix in "$here"/scripts/patches/quickfix-1.16.0-*.patch; do
    git -C "$src" apply -p1 "$fix"
  done
  sed -i "s/^version = 1\.16\.0$/version = $version/" "$src/setup.cfg"
  grep -q "^version = $version$" "$src/setup.cfg" || { echo "cannot set quickfix's version in its setup.cfg" >&2; exit 1; }
  cp "$here/scripts/quickfix_build_ext.py" "$src/"
  sed -i 's/^\[options\]$/&\ncmdclass =\n\tbuild_ext = quickfix_build_ext.ParallelBuildExt/' "$src/setup.cfg"
  printf '\n[build_ext]\nparallel = %s\n' "$jobs" >>"$src/setup.cfg"
  # pip -v streams the build's output: the full log goes to a file, the progress lines to stderr.
  log="$sdist_dir/build.log"
  if ! PIP_CONSTRAINT="$here/requirements/build-constraints.txt" \
    "$py" -m pip wheel -v --no-deps -w "$wheelhouse" "$src" 2>&1 | tee "$log" \
    | { sed -u -n 's/^ *\(quickfix: \)/\1/p' >&2 || true; }; then
    echo "Building quickfix failed; the end of its log:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
fi

"$py" -m pip install --quiet --no-index --find-links "$wheelhouse" "quickfix==$version"
"$py" -c 'import quickfix, quickfix50sp2; quickfix.ThreadedSocketInitiator' \
  || { echo "quickfix installed but does not import" >&2; exit 1; }
