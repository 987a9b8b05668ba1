"""``python -m bench --smoke`` end to end: every figure is produced, none is judged.

The smoke mode runs every process pair (bare QuickFIX, truex-qf, truex-qf with the journal,
the reflex, and the five floor receivers: bare QuickFIX doing truex-qf's per-message work one
step more each) on a few hundred messages, the reference-to-quote measurement on a few ticks,
a 5,000-message soak and two short backtests (a quiet synthetic capture and a busy one).
Timings on a shared two-core machine say nothing at this size, so the test only checks that
the JSON holds every key and that each figure is a real, positive measurement: no timing
assertions.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from bench.soak import soak
from tests.support.figures import positive
from truex_qf.trading.orders import HISTORY_KEPT, LINEAGE_IDS_KEPT

PROJECT_DIR = Path(__file__).resolve().parents[1]


def test_smoke_run_writes_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    finished = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--json", str(output)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,  # about 90 s on two shared cores
    )
    assert finished.returncode == 0, finished.stderr[-4000:]
    assert "PASS" in finished.stdout or "MISS" in finished.stdout

    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["mode"] == "smoke"

    # the ratios and the raw numbers behind them
    positive(report, "md_throughput_ratio")
    for receiver in ("baseline", "truex_qf", "truex_qf_journal"):
        positive(report, "md_throughput_msgs_per_s", receiver)
        positive(report, "md_cpu_us_per_msg", receiver)
    positive(report, "md_throughput_msgs_per_s", "baseline_thread_state_kept")
    positive(report, "md_throughput_msgs_per_s", "ratio_to_baseline_thread_state_kept")
    positive(report, "md_cpu_us_per_msg", "baseline_thread_state_kept")
    # the floor: one rung per step, each a real measurement that read the stream sanely
    rungs = report["md_floor"]
    assert [rung["steps"][-1] for rung in rungs] == [
        "thread_state",
        "engine_log",
        "text",
        "read",
        "book",
    ]
    for number, rung in enumerate(rungs):
        positive(rung, "sustained_msgs_per_s")
        positive(rung, "cpu_us_per_msg")
        positive(rung, "ratio_to_baseline")
        assert rung["callback_failures"] == 0, rung
        assert rung["book_inconsistency"] is None, rung
        assert len(rung["steps"]) == number + 1
    assert "floor: bare QuickFIX" in finished.stdout
    positive(report, "order_rtt_ratio")
    for receiver in ("baseline", "truex_qf", "truex_qf_journal"):
        for stat in ("p50", "p99"):
            positive(report, "order_rtt_us", receiver, stat)
    for stat in ("p50", "p99", "p999"):
        positive(report, "tick_to_quote_us", stat)
    positive(report, "tick_to_quote_detail_us", "to_send_to_target_return_no_journal", "p50")
    positive(report, "journal", "on_msgs_per_s")
    positive(report, "journal", "off_msgs_per_s")
    positive(report, "journal", "tap_us", "max")
    # 1 - on/off: noise can make it zero or negative on a tiny run, never more than 1
    cost = report["journal_cost_ratio"]
    assert isinstance(cost, int | float) and math.isfinite(cost) and cost < 1

    # issue 19: the reflex (bare QuickFIX answering each X with a prebuilt D) and our ratio
    for stat in ("p50", "p99"):
        positive(report, "reflex_us", stat)
        positive(report, "tick_to_quote_ratio", stat)
        # the first order of each tick alone (most ticks send two), and over the reflex
        positive(report, "tick_to_quote_us", "first_order", stat)
        positive(report, "tick_to_quote_ratio", "first_order", stat)
    assert "first order per tick p50 vs reflex" in finished.stdout
    assert report["reflex_us"]["callback_failures"] == 0
    assert report["reflex_us"]["x_answered"] == report["runs"]["reflex"]["reflex"]["orders_built"]
    assert "onOutgoing" in report["reflex_us"]["measured"]
    assert "onOutgoing" in report["tick_to_quote_ratio"]["measured"]
    # a reference tick to the order, streamed, beside the REST poll
    for stat in ("p50", "p99"):
        positive(report, "reference_to_quote_us", stat)
        positive(report, "reference_to_quote_us", "rest_poll", stat)
    # the trading process's own CPU per message, journal on over off, the journal's beside it
    positive(report, "journal_client_cpu_ratio")
    client_cpu = report["journal"]["client_cpu"]
    assert client_cpu["ratio_on_over_off"] == report["journal_client_cpu_ratio"]
    assert client_cpu["ratio_on_over_off"] == round(
        client_cpu["client_cpu_us_per_msg_on"] / client_cpu["client_cpu_us_per_msg_off"], 3
    )
    assert "journal_process_cpu_us_per_msg" in client_cpu
    # the soak: its size said, RSS and every structure at start and end
    soak = report["soak"]
    assert soak["md_messages"] == 5_000
    positive(soak, "orders")
    positive(soak, "fills")
    for point in ("start", "end"):
        positive(soak, "rss_mib", point)
        assert set(soak["structures"][point]) >= {
            "order_manager.orders",
            "order_manager.by_cl_ord_id",
            "lineage.cl_ord_ids_max",
            "lineage.history_max",
            "market_maker.levels",
            "market_maker.known_fills",
            "positions",
            "risk.rate_window_60s",
            "books.levels",
        }
    growth = soak["rss_growth_ratio"]
    assert isinstance(growth, float) and math.isfinite(growth)
    assert isinstance(soak["structures"]["grew"], list)
    # no lineage keeps more ClOrdIDs than its cap, however long it is replaced
    caps = soak["structures"]["caps"]
    assert soak["structures"]["end"]["lineage.cl_ord_ids_max"] <= caps["lineage.cl_ord_ids_max"]

    # issue 21: a backtest's speed, a quiet book and a busy one, each replay with the store
    for book, rate in (("quiet", 1), ("busy", 20)):
        x_real_time = positive(report, "backtest_x_real_time", book)
        run = report["backtest_x_real_time"][f"{book}_run"]
        assert run["x_real_time"] == x_real_time
        assert run["messages_per_s"] == rate and run["store"] is True
        positive(run, "messages")
    assert "backtest x real time" in finished.stdout

    # machine facts and the target table
    for fact in ("cpu", "cores", "python", "quickfix", "platform"):
        assert report["machine"][fact], fact
    # how deeply idle CPUs sleep moves every latency: the run says what it was measured under
    assert "cpuidle_driver" in report["machine"]
    assert "cpu_wake_latency_limit_us" in report["machine"]
    # where each pair ran: with two usable CPUs, client and venue apart, the same for every pair
    placement = report["machine"]["placement"]
    if report["machine"]["cores_usable"] >= 2:
        client, venue = placement["client_cpu"], placement["venue_cpu"]
        assert placement["pinned"] and client != venue
        for pair, observed in placement["observed"].items():
            assert observed["client"]["cpus"] == [client], pair
            assert observed["venue"]["cpus"] == [venue], pair
        # the journal's process, started by the client, is moved to the other CPU
        journal = placement["observed"]["truex_journal"]["client"]["child_processes"]
        assert journal and all(process["cpus"] == [venue] for process in journal), journal
        assert f"client on CPU {client}, venue on CPU {venue}" in finished.stdout
    names = {row["name"] for row in report["targets"]}
    assert names == {
        "md_throughput_ratio",
        "tick_to_quote_p50_us",
        "tick_to_quote_p99_us",
        "order_rtt_ratio",
        "journal_cost_ratio",
        "decision_lag_p99_us",
        "tick_to_quote_ratio_p50",
        "reference_to_quote_p50_us",
        "journal_client_cpu_ratio",
        "soak_rss_growth_ratio",
        "backtest_x_real_time_quiet",
    }
    assert all(row["value"] is not None for row in report["targets"]), report["targets"]

    # the run stayed sane: the stream never broke the book, nothing was refused
    for run in ("truex", "truex_journal"):
        final = report["runs"][run]["client_final"]
        assert final["resubscribes"] == 0
        assert final["book_inconsistency"] is None
        assert final["send_failures"] == 0


def test_the_soak_finds_no_structure_of_ours_growing_with_the_run() -> None:
    # 20,000 messages (3.4 simulated hours: ten fill-key windows) in one process, a taker
    # every 200 of them
    figures = soak(20_000, taker_every=200)
    assert figures["orders"] > 5_000 and figures["fills"] > 50
    assert figures["stats"]["venue_rejects"] == 0 and figures["stats"]["warnings"] == {}
    # every fill counted once, though the venue's trade listings showed each again
    assert figures["stats"]["fills"] == figures["fills"] and figures["trade_listings"] > 30
    structures = figures["structures"]
    assert structures["grew"] == []
    end = structures["end"]
    # the fill keys: two a fill, of the fills of the last window or so
    fills_per_s = figures["fills"] / figures["simulated_s"]
    window_s = structures["fill_keys_window_s"]
    assert 0 < end["market_maker.known_fills"] <= 2 * (fills_per_s * window_s + 5)
    assert end["lineage.cl_ord_ids_max"] <= LINEAGE_IDS_KEPT + 1
    assert end["lineage.history_max"] <= HISTORY_KEPT + 1
    assert end["order_manager.live"] == 2
    assert end["order_manager.seen_exec_ids"] <= structures["caps"]["order_manager.seen_exec_ids"]
    # the engine's memory is trimmed, so the RSS is ours
    assert figures["engine_after_trim"]["trades"] == 0


def test_the_md_path_cost_driver_runs_every_mode() -> None:
    # bench.md_path_cost: the engine thread's calls for each message, in one thread (what
    # callgrind counts); each mode applies the whole stream and leaves the book consistent
    for mode in ("each", "burst", "floor"):
        finished = subprocess.run(
            [sys.executable, "-m", "bench.md_path_cost", "--messages", "100", "--decide", mode],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert finished.returncode == 0, finished.stderr[-4000:]
        assert finished.stdout.startswith(f"100 messages, decide {mode}: "), finished.stdout


def test_a_bad_wake_latency_stops_the_bench_before_any_pair(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--cpu-wake-latency-us", "-1"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 2
    assert finished.stderr.strip() == (
        "bench failed: --cpu-wake-latency-us: '-1' must be a whole number of microseconds,"
        " 0 or more"
    )
