"""Everything a trading run is configured by, read and checked once, before anything starts.

A run has three sources of settings: the environment (FIX endpoint, credentials, state folder,
REST, storage, metrics; read only by :mod:`truex_qf.config`), the strategy file (symbols,
spreads, sizes, risk; :mod:`truex_qf.strategy.settings`), and the command line. Each source
keeps its own typed value (:class:`~truex_qf.config.FixSettings`,
:class:`~truex_qf.strategy.settings.StrategySettings`,
:class:`~truex_qf.app.pipeline.PipelineSettings`), and this module puts them together as the
one value a run starts from: :func:`load_run_settings` reads every source in a fixed order
and raises the first mistake as a :class:`~truex_qf.domain.errors.ConfigError` naming the
variable, file field or option (the CLI prints it as one line, exit 2). Nothing is read from
the environment after this: the runner, the market maker and the pipeline take values.

Why not one pydantic model: tried in issue 18, it made the messages worse (several lines per
mistake, the field named by its Python path rather than the variable or file key the user
wrote) and accepted ``1e1000000`` as a spread; the hand-written checks in the two loaders are
what every current message comes from, and this module adds none of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from truex_qf.app.capture_session import check_capture_dir
from truex_qf.app.pipeline import PipelineSettings, pipeline_settings
from truex_qf.config import (
    FixSettings,
    give_up_after_s,
    load_fix_settings,
    prepare_state_dir,
    rest_url,
    unknown_orders,
)
from truex_qf.strategy.settings import StrategySettings, load_strategy
from truex_qf.trading.market_maker import DEFAULT_GIVE_UP_S
from truex_qf.trading.reconcile import UnknownOrderPolicy


@dataclass(frozen=True)
class RunSettings:
    """What ``truex-qf run`` starts from (module docstring)."""

    fix: FixSettings
    strategy: StrategySettings
    recording: PipelineSettings
    rest_url: str | None  # None: TRUEX_REST_URL=off, no reconciliation
    unknown_orders: UnknownOrderPolicy  # TRUEX_UNKNOWN_ORDERS
    give_up_after_s: float  # TRUEX_GIVE_UP_AFTER_S, or the market maker's default


def load_run_settings(
    strategy_path: Path | None,
    *,
    capture_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> RunSettings:
    """Every setting of a run, checked; the state folder is created (and proven writable).

    Order: the FIX environment, the strategy file, the state folder, storage and monitoring,
    REST, the unknown-order policy, the give-up time, then ``capture_dir`` (``--capture``).
    ``env``: another mapping than the process environment, for tests.
    """
    fix = load_fix_settings(env)
    strategy = load_strategy(strategy_path)
    prepare_state_dir(fix.state_dir)
    recording = pipeline_settings(fix.state_dir, fix.sender_comp_id, env)
    rest = rest_url(env)
    policy = UnknownOrderPolicy(unknown_orders(env))
    give_up = give_up_after_s(env)
    if capture_dir is not None:
        recording = dataclasses.replace(
            recording, capture_dir=check_capture_dir("--capture", capture_dir)
        )
    return RunSettings(
        fix=fix,
        strategy=strategy,
        recording=recording,
        rest_url=rest,
        unknown_orders=policy,
        give_up_after_s=DEFAULT_GIVE_UP_S if give_up is None else give_up,
    )
