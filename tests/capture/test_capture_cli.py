"""`truex-qf capture` as a user runs it: against the simulator (real QuickFIX on both sides),
from a stored run's journal, the demo's own capture, and the mistakes that are one line."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import account_env, run_cli, start_cli, wait_for_line
from tests.support.sessions import unique_comp_id
from tests.support.simulated_market import simulated_market
from tests.support.timing import wait_until
from truex_qf.app.demo import DEMO_SYMBOL, LocalVenue, demo_account, run_demo
from truex_qf.capture import CaptureFormatError, FixRecord, ReferenceRecord, read_capture

CLI_TIMEOUT_S = 90.0


@pytest.fixture
def market(tmp_path: Path) -> Iterator[LocalVenue]:
    """The simulator with its simulated traders, so the book moves every flow step."""
    with simulated_market(tmp_path / "venue", step_interval_s=0.05, seed=5) as market:
        yield market.local


def _env(market: LocalVenue, tmp_path: Path) -> dict[str, str]:
    env = account_env(market.client_settings, tmp_path / "state", TRUEX_REST_URL="off")
    env.pop("DATABASE_URL", None)
    return env


def _fix_records(paths: object) -> list[FixRecord]:
    return [r for r in read_capture(paths) if isinstance(r, FixRecord)]  # type: ignore[arg-type]


def test_capture_records_the_simulators_market_data(market: LocalVenue, tmp_path: Path) -> None:
    out = tmp_path / "captures"
    done = run_cli(
        "capture",
        "--duration",
        "3",
        "--symbols",
        DEMO_SYMBOL,
        "--out",
        str(out),
        env=_env(market, tmp_path),
        timeout_s=CLI_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = out.glob("capture-*.cap.gz")
    assert f"capture file: {path}" in done.stdout
    stream = read_capture(path)
    records = [r for r in stream if isinstance(r, FixRecord)]
    kinds = [r.msg_type for r in records]
    assert "y" in kinds  # the security list, asked for as `run` asks
    assert kinds.count("W") >= 1 and kinds.count("X") >= 5
    assert kinds.index("W") < kinds.index("X")
    assert all(f"55={DEMO_SYMBOL}\x01" in r.raw for r in records if r.msg_type in "WX")
    recv = [r.recv_ns for r in records]
    assert recv == sorted(recv) and len(set(recv)) == len(recv)
    assert f"captured {len(records)} market-data messages" in done.stdout
    (header,) = stream.headers
    assert header.symbols == (DEMO_SYMBOL,)
    assert header.source == "fix"
    assert header.sender_comp_id == market.client_settings.sender_comp_id
    # Only the market-data session: the venue never saw an order-entry logon.
    store = [path.name for path in (tmp_path / "state" / "capture" / "store").iterdir()]
    assert any("_MD" in name for name in store) and not any("_OE" in name for name in store)


def test_a_symbol_the_venue_refuses_ends_the_capture_with_one_line(
    market: LocalVenue, tmp_path: Path
) -> None:
    done = run_cli(
        "capture",
        "--symbols",
        "DOGE-PYUSD",
        "--out",
        str(tmp_path / "captures"),
        env=_env(market, tmp_path),
        timeout_s=CLI_TIMEOUT_S,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "refused the market data request" in errors[0], done.stderr
    assert "DOGE-PYUSD" in errors[0]
    assert "Traceback" not in done.stderr


def test_sigterm_ends_the_capture_cleanly_with_143(market: LocalVenue, tmp_path: Path) -> None:
    out = tmp_path / "captures"
    process = start_cli(
        "capture", "--symbols", DEMO_SYMBOL, "--out", str(out), env=_env(market, tmp_path)
    )
    try:
        wait_for_line(process.stdout, "capturing", timeout_s=CLI_TIMEOUT_S)

        def some_increments() -> bool:
            try:
                return sum(r.msg_type == "X" for r in _fix_records([out])) >= 3
            except CaptureFormatError:  # the file is not there yet
                return False

        wait_until(some_increments, timeout_s=30)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=CLI_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 143, stderr[-3000:]
    assert "stopped by SIGTERM (exit 143)" in stderr
    assert "capture file:" in stdout
    stream = read_capture(out)
    assert sum(isinstance(r, FixRecord) for r in stream) >= 3
    assert not stream.truncated


def test_the_demo_leaves_a_capture_and_from_run_extracts_the_same_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    state = tmp_path / "state"
    result = run_demo(state / "demo", 3.0, flow_seed=3)
    (path,) = result.capture_paths
    assert path.parent == state / "demo" / "capture"
    assert path.name.startswith(f"demo-{result.run_id[:8]}-")
    records = list(read_capture(path))
    live = [r for r in records if isinstance(r, FixRecord)]
    ticks = [r for r in records if isinstance(r, ReferenceRecord)]
    assert {"W", "X"} <= {r.msg_type for r in live}
    assert ticks and {t.symbol for t in ticks} == {DEMO_SYMBOL}
    assert [r.recv_ns for r in records] == sorted(r.recv_ns for r in records)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUEX_", "DATABASE_URL"))}
    env["TRUEX_STATE_DIR"] = str(state)
    out = tmp_path / "from-run"
    done = run_cli(
        "capture", "--from-run", result.run_id[:8], "--out", str(out), env=env, timeout_s=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (extracted,) = out.glob(f"run-{result.run_id[:8]}-*.cap.gz")
    stream = read_capture(extracted)
    journal = [r for r in stream if isinstance(r, FixRecord)]
    # The journal and the capture saw the same messages through the same engine log.
    assert [r.raw for r in journal] == [r.raw for r in live]
    assert [r.recv_ns for r in journal] == sorted(r.recv_ns for r in journal)
    (header,) = stream.headers
    assert header.source == f"run:{result.run_id}"
    assert header.symbols == (DEMO_SYMBOL,)


def test_run_with_capture_records_what_the_market_maker_saw(
    market: LocalVenue, tmp_path: Path
) -> None:
    out = tmp_path / "run-captures"
    done = run_cli(
        "run",
        "--duration",
        "3",
        "--capture",
        str(out),
        env=_env(market, tmp_path),
        timeout_s=CLI_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = done.stdout.split("run id: ")[1].split(";")[0]
    (path,) = out.glob(f"run-{run_id[:8]}-*.cap.gz")
    stream = read_capture(path)
    records = [r for r in stream if isinstance(r, FixRecord)]
    assert {"y", "W", "X"} <= {r.msg_type for r in records if r.session == "MD"}
    # our own orders' reports too (the book shows our quotes; a backtest takes them out)
    own = [r for r in records if r.session == "OE"]
    assert own and {r.msg_type for r in own} == {"8"}
    assert stream.headers[0].extra == {"run_id": run_id}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--out", "{tmp}/afile"), "error: --out: cannot write capture files in"),
        (("--from-run", "nosuchrun"), "error: run id: 'nosuchrun': no such run"),
        (("--from-run", "x", "--duration", "5"), "error: --from-run: reads a stored run"),
        (("--symbols", "BTC/PYUSD"), "error: --symbols: 'BTC/PYUSD': expected BASE-QUOTE"),
        (("--prefix", "../up"), "error: --prefix: '../up'"),
        (("--duration", "0"), "error: --duration: 0 must be a positive number"),
        (("--reference", "bogus"), "error: truex-qf capture: Invalid value for '--reference'"),
        (("@run", "--capture", "{tmp}/afile"), "error: --capture: cannot write capture files in"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    (tmp_path / "afile").write_text("")
    settings = demo_account(unique_comp_id())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUEX_", "DATABASE_URL"))}
    env.update(
        TRUEX_STATE_DIR=str(tmp_path / "state"),
        TRUEX_API_KEY=settings.credentials.api_key,
        TRUEX_SECRET_KEY=settings.credentials.secret_key,
        TRUEX_SENDER_COMP_ID=settings.sender_comp_id,
        TRUEX_CLIENT_ID=settings.client_id,
        TRUEX_FIX_HOST="127.0.0.1",
        TRUEX_MARKET_DATA_PORT="9",  # nothing answers: a case that got further would fail
    )
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    command = argv.pop(0)[1:] if argv[0].startswith("@") else "capture"
    done = run_cli(command, *argv, env=env, timeout_s=60)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), done.stderr
    assert "Traceback" not in done.stderr
