"""`make lint` fails on a violation: each of its checks is shown catching one, on a copy.

The checks are the Makefile's lint target (ruff, the import contracts, mypy) with the
repository's own configuration (setup.cfg, pyproject.toml). Each case copies the package
beside that configuration into a temporary folder, adds one module that breaks one rule, and
runs the tool as `make lint` does: it must fail and name what broke. The import contracts are
first shown to hold on the bare copy, so their failure is the module's and not the copy's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONFIG_FILES = ("setup.cfg", "pyproject.toml")


def test_makefile_lint_runs_every_check() -> None:
    makefile = (ROOT / "Makefile").read_text()
    target = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    for command in ("ruff check", "ruff format --check", "lint-imports", "mypy"):
        assert command in target, f"make lint does not run {command}"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lint")
    shutil.copytree(
        ROOT / "truex_qf", root / "truex_qf", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in CONFIG_FILES:
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, root / name)
    return root


def run(tree: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=300,
    )


def with_module(tree: Path, path: str, source: str) -> Path:
    module = tree / path
    module.write_text(source)
    return module


def test_import_contract_fails_on_trading_importing_rest(tree: Path) -> None:
    assert run(tree, "lint-imports").returncode == 0
    module = with_module(
        tree, "truex_qf/trading/lint_violation.py", "import truex_qf.rest.client\n"
    )
    try:
        result = run(tree, "lint-imports", "--no-cache")
    finally:
        module.unlink()
    assert result.returncode != 0
    assert "truex_qf.trading.lint_violation -> truex_qf.rest.client" in result.stdout
    assert "BROKEN" in result.stdout


def test_mypy_fails_on_an_untyped_function_in_the_strict_core(tree: Path) -> None:
    source = "def spread(bid, ask):\n    return ask - bid\n"
    module = with_module(tree, "truex_qf/strategy/lint_violation.py", source)
    try:
        result = run(tree, "mypy", "truex_qf/strategy/lint_violation.py")
    finally:
        module.unlink()
    assert result.returncode != 0
    assert "lint_violation.py:1: error: Function is missing a type annotation" in result.stdout


def test_ruff_fails_on_an_unused_import(tree: Path) -> None:
    module = with_module(tree, "truex_qf/domain/lint_violation.py", "import os\n")
    try:
        result = run(tree, "ruff", "check", "truex_qf/domain/lint_violation.py")
    finally:
        module.unlink()
    assert result.returncode != 0
    assert "F401" in result.stdout
