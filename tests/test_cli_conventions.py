"""CLI conventions, checked over every command: help on every option, ``-h``, ``--version``, the
environment each command reads named in its help, whole summaries, one error style.

Most checks walk click's command tree in-process (``CliRunner``); the ones about ``main()`` (the
one-line error, the version) run the console entry point as a user does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from truex_qf import __version__
from truex_qf.app.cli import cli

ENV_NAME = re.compile(r"\b(TRUEX_[A-Z_]+|DATABASE_URL|REDIS_URL)\b")


def _commands(
    group: click.Group = cli, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in sorted(group.commands.items()):
        found.append(((*path, name), command))
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
    return found


COMMANDS = _commands()
LEAVES = [(path, command) for path, command in COMMANDS if not isinstance(command, click.Group)]


def _ids(items: list[tuple[tuple[str, ...], click.Command]]) -> list[str]:
    return [" ".join(path) for path, _ in items]


def test_the_tree_has_the_commands_a_trader_uses():
    names = set(_ids(COMMANDS))
    assert {"runs", "summary", "pnl", "orders", "fills", "audit show", "status"} <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=_ids(COMMANDS))
def test_every_option_has_help(path, command):
    missing = [
        param.name
        for param in command.params
        if isinstance(param, click.Option) and not (param.help or "").strip()
    ]
    assert not missing, f"{' '.join(path)}: options without help: {missing}"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=_ids(COMMANDS))
def test_dash_h_is_help(path, command):
    result = CliRunner().invoke(cli, [*path, "-h"], obj={}, prog_name="truex-qf")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: truex-qf {' '.join(path)} ")
    assert "-h, --help" in result.output


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=_ids(LEAVES))
def test_every_command_names_the_environment_it_reads(path, command):
    result = CliRunner().invoke(cli, [*path, "--help"], obj={})
    assert ENV_NAME.search(result.output), f"{' '.join(path)}: no environment variable named"


def test_ports_are_typed():
    for path, command in LEAVES:
        for param in command.params:
            if isinstance(param, click.Option) and (param.name or "").endswith("port"):
                assert isinstance(param.type, click.IntRange), (path, param.name)


def test_command_summaries_are_whole():
    for path, command in [((), cli), *COMMANDS]:
        if isinstance(command, click.Group):
            listing = CliRunner().invoke(cli, [*path, "--help"], obj={}).output
            assert "..." not in listing.partition("Commands:")[2], path
    for path, command in COMMANDS:
        summary = command.get_short_help_str(limit=10_000)
        assert summary and summary.endswith((".", ")")), (path, summary)


def _main(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "truex_qf.app.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_version():
    result = _main("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"truex-qf {__version__}"


def test_errors_are_one_lowercase_line_with_exit_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUEX_", "DATABASE_URL"))}
    env["TRUEX_STATE_DIR"] = str(tmp_path / "state")
    for args in (
        ("summary", "--no-such-option"),
        ("proxy", "--listen-port", "70000"),
        ("audit", "show", "--type", "Not A Type!"),
    ):
        result = _main(*args, env=env)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.stderr)
        assert "Error:" not in result.stderr and "Traceback" not in result.stderr
