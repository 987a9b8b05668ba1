"""Programs from Debian packages that some tests need (chromium, tmux, promtool).

Outside CI a test skips with a reason when its program is missing; ``.ci/run`` installs them
and sets ``TRUEX_QF_REQUIRE_<NAME>=1``, so there a missing program fails instead of skipping.
"""

from __future__ import annotations

import os
import shutil

import pytest


def required(env_name: str) -> bool:
    """Whether CI requires the tool named by ``TRUEX_QF_REQUIRE_<env_name>``."""
    return os.environ.get(f"TRUEX_QF_REQUIRE_{env_name}") == "1"


def program_or_skip(names: tuple[str, ...], package: str, env_name: str) -> str:
    """The path of the first of ``names`` on PATH; else skip (or fail where CI requires it)."""
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    message = f"no {names[0]} on this machine (Debian package: {package})"
    if required(env_name):
        pytest.fail(f"{message}; TRUEX_QF_REQUIRE_{env_name}=1")
    pytest.skip(message)
