"""The command-line options several ``truex-qf`` commands take, declared once: the same name,
type, default and help wherever they appear (cli.py, capture_cmd.py, backtest_cmd.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def strategy_option(uses: str = "") -> Callable[[F], F]:
    """``--strategy FILE`` (``strategy_path``, None: the built-in defaults); ``uses``: what of
    the file the command reads, when it is not all of it."""
    return click.option(
        "--strategy",
        "strategy_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help=f"Strategy file (TOML, see strategy.example.toml){uses}; default: built-in defaults.",
    )


def duration_option(activity: str, default: float | None = None) -> Callable[[F], F]:
    """``--duration SECONDS`` (``duration_s``) of ``activity`` ("trade", "capture"); without
    a ``default`` it runs until stopped. The command checks it with ``_positive_duration``."""
    until_stopped = "; default: until stopped (Ctrl-C or SIGTERM)" if default is None else ""
    return click.option(
        "--duration",
        "duration_s",
        type=float,
        default=default,
        show_default=default is not None,
        help=f"Seconds to {activity}{until_stopped}.",
    )


run_id_option = click.option(
    "--run-id", default=None, help="Which run (a unique prefix will do); default: the latest."
)
"""``--run-id`` of a command that reads one stored run (``truex-qf runs`` lists them)."""


def local_balance_option(applies: str = "") -> Callable[[F], F]:
    """``--balance CCY=AMOUNT`` (``balances``, repeatable) of a local venue's account (a
    backtest's or a paper run's); ``applies``: when the option applies, if not always. Read
    with :func:`truex_qf.sim.balances.parse_balances` (no defaults: only what is given)."""
    return click.option(
        "--balance",
        "balances",
        multiple=True,
        metavar="CCY=AMOUNT",
        help=f"{applies}The account's starting balance of CCY (repeatable; every currency not "
        "given starts at 0). Orders it cannot fund are rejected, Insufficient balance, as "
        "TrueX does; fills move the balances. Default: balances are not limited.",
    )
