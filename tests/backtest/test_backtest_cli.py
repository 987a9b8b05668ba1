"""`truex-qf backtest` as a user runs it: on a written capture, and on one the simulator's
market data was captured into by `truex-qf capture` (real QuickFIX on both sides); the run it
stores is read by `summary` and `runs`; mistakes are one line and exit 2."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.synthetic_capture import AT_THE_TOUCH, write_walk_capture
from tests.support.processes import account_env, run_cli, store_env
from tests.support.simulated_market import simulated_market
from truex_qf.app.demo import DEMO_STRATEGY_FILE, DEMO_SYMBOL, LocalVenue, run_demo

CLI_TIMEOUT_S = 120.0
RUN_ID = re.compile(r"^run id: ([0-9a-f-]{36}); see it with: truex-qf summary ([0-9a-f]{8})$", re.M)


def test_backtest_prints_the_summary_and_the_command_that_shows_it_again(
    tmp_path: Path, strategy_file: Path
) -> None:
    capture = write_walk_capture(tmp_path / "capture", seconds=60)
    env = store_env(tmp_path / "state")
    done = run_cli(
        "backtest",
        "--data",
        str(capture),
        "--strategy",
        str(strategy_file),
        "--latency-us",
        "500",
        "--maker-fee-bps",
        "-1",
        env=env,
        timeout_s=CLI_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = RUN_ID.search(done.stdout)
    assert found is not None, done.stdout
    run_id, short = found.groups()
    assert run_id.startswith(short)
    assert f"run {run_id} (backtest, BACKTEST)" in done.stdout
    assert "latency 500 us" in done.stdout
    printed = done.stdout[: done.stdout.index("replayed ")]
    again = run_cli("summary", short, env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout == printed
    fills = re.search(r"fills +(\d+) ", printed)
    assert fills is not None and int(fills.group(1)) > 0
    listed = run_cli("runs", env=env)
    assert re.search(rf"^{short} .* backtest +{fills.group(1)} ", listed.stdout, re.M)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "error: --data: name at least one capture file"),
        (("--data", "nowhere.cap.gz"), "error: --data: capture file nowhere.cap.gz does not exist"),
        (("--data", "{strategy}"), "not a gzip capture file"),
        (("--data", "{capture}", "--maker-fee-bps", "x"), "error: --maker-fee-bps: 'x' is not"),
        (("--data", "{capture}", "--taker-fee-bps", "1e9"), "error: --taker-fee-bps: '1e9' must"),
        (("--data", "{capture}", "--latency-us", "-1"), "Invalid value for '--latency-us'"),
        (("--data", "{capture}", "--balance", "PYUSD"), "error: --balance: 'PYUSD': expected"),
        (("--data", "{capture}", "--balance", "BTC=-1"), "error: --balance: 'BTC=-1': the amount"),
        (("--data", "{capture}", "--strategy", "nowhere.toml"), "error: "),
        (("--data", "{capture}", "--strategy", "{bad_strategy}"), "error: "),
        (
            ("--data", "{capture}", "--strategy", "{other_symbol}"),
            "error: --strategy: quotes ETH-PYUSD; the capture holds BTC-PYUSD",
        ),
    ],
)
def test_mistakes_are_one_line_and_exit_2(
    tmp_path: Path, strategy_file: Path, args: tuple[str, ...], message: str
) -> None:
    capture = write_walk_capture(tmp_path / "capture", seconds=2)
    bad_strategy = tmp_path / "bad.toml"
    bad_strategy.write_text("[symbols.BTC-PYUSD]\nspread_bps = -3\n")
    other_symbol = tmp_path / "eth.toml"
    other_symbol.write_text(AT_THE_TOUCH.replace("BTC-PYUSD", "ETH-PYUSD"))
    names = {
        "capture": capture,
        "strategy": strategy_file,
        "bad_strategy": bad_strategy,
        "other_symbol": other_symbol,
    }
    done = run_cli(
        "backtest",
        *(arg.format(**names) for arg in args),
        env=store_env(tmp_path / "state"),
        timeout_s=CLI_TIMEOUT_S,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "state" / "truex-qf.db").exists()  # nothing written


def test_help_describes_every_option() -> None:
    done = run_cli("backtest", "--help", env=dict(os.environ))
    assert done.returncode == 0
    for option in (
        "--data",
        "--strategy",
        "--latency-us",
        "--maker-fee-bps",
        "--taker-fee-bps",
        "--balance",
    ):
        assert option in done.stdout
    assert "Reads TRUEX_STATE_DIR" in done.stdout


@pytest.fixture
def market(tmp_path: Path) -> Iterator[LocalVenue]:
    """The simulator with its simulated traders, so the book moves and trades every step."""
    with simulated_market(tmp_path / "venue", step_interval_s=0.05, seed=11) as market:
        yield market.local


def test_a_capture_of_the_simulator_backtests_into_fills_and_a_stored_run(
    market: LocalVenue, tmp_path: Path, strategy_file: Path
) -> None:
    env = account_env(market.client_settings, tmp_path / "state", TRUEX_REST_URL="off")
    env.pop("DATABASE_URL", None)
    out = tmp_path / "captures"
    captured = run_cli(
        "capture",
        "--duration",
        "6",
        "--symbols",
        DEMO_SYMBOL,
        "--out",
        str(out),
        env=env,
        timeout_s=CLI_TIMEOUT_S,
    )
    assert captured.returncode == 0, captured.stderr[-3000:]
    done = run_cli(
        "backtest",
        "--data",
        str(out),
        "--strategy",
        str(strategy_file),
        env=env,
        timeout_s=CLI_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = RUN_ID.search(done.stdout)
    assert found is not None, done.stdout
    fills = re.search(r"fills +(\d+) ", done.stdout)
    assert fills is not None and int(fills.group(1)) > 0, done.stdout
    again = run_cli("summary", found.group(2), "--json", env=env)
    assert again.returncode == 0, again.stderr
    assert '"mode": "backtest"' in again.stdout


def test_the_demos_capture_backtests_the_same_in_every_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    state = tmp_path / "state"
    demo = run_demo(state / "demo", 6.0, flow_seed=4)
    (capture,) = demo.capture_paths
    strategy = DEMO_STRATEGY_FILE  # the demo's own strategy file
    printed = []
    for hash_seed in ("1", "2"):  # set and dict orders of strings differ between the two
        env = {**store_env(state), "PYTHONHASHSEED": hash_seed}
        done = run_cli(
            "backtest",
            str(capture),  # a file after the options is data too
            "--data",
            str(capture),  # the same file twice: the replay reads it twice, in order
            "--strategy",
            str(strategy),
            "--latency-us",
            "200",
            env=env,
            timeout_s=CLI_TIMEOUT_S,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        printed.append(done.stdout)
    fills = re.search(r"fills +(\d+) ", printed[0])
    assert fills is not None and int(fills.group(1)) > 0, printed[0]

    def figures(stdout: str) -> list[str]:  # all but the run id and the speed
        return [
            line
            for line in stdout.splitlines()
            if not line.startswith(("run ", "replayed ", "run id: "))
        ]

    assert figures(printed[1]) == figures(printed[0])
    assert len(RUN_ID.findall(printed[0] + printed[1])) == 2
