"""The figures: ratios and percentiles from the raw runs, the JSON report and the table."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import struct
from pathlib import Path
from typing import Any

from bench.bare import FLOOR_STEPS
from bench.common import TARGETS, Mode
from bench.process import summarize_ns
from truex_qf.app.cpu_wake import DEVICE


def current_limit_us(device: Path = DEVICE) -> int | None:
    """The CPU wake-up limit in force now (the lowest any process holds, see
    truex_qf.app.cpu_wake), or None if it cannot be read."""
    try:
        with device.open("rb") as handle:
            data = handle.read(4)
    except OSError:
        return None
    return struct.unpack("=i", data)[0] if len(data) == 4 else None


def idle_driver() -> str | None:
    """The kernel's cpuidle driver (``haltpoll``, ``intel_idle``...)."""
    with contextlib.suppress(OSError):
        return Path("/sys/devices/system/cpu/cpuidle/current_driver").read_text().strip()
    return None


def machine_facts() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "quickfix": importlib.metadata.version("quickfix"),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        # how deeply an idle CPU sleeps decides what a quiet market's first message costs
        "cpuidle_driver": idle_driver(),
        "cpu_wake_latency_limit_us": current_limit_us(),
    }


def print_json(figures: dict[str, Any], path: Path | None) -> None:
    """A bench module's figures on stdout as indented JSON, and into ``path`` when given."""
    text = json.dumps(figures, indent=2)
    if path is not None:
        path.write_text(text + "\n", encoding="utf-8")
    print(text)


def _ratio(numerator: float | None, denominator: float | None) -> float:
    if not numerator or not denominator:
        return 0.0
    return round(numerator / denominator, 3)


def _ttq(samples: list[list[int]], warmup: int, column: int) -> dict[str, float]:
    """Every order's latency in ``column``, the first ``warmup`` ticks left out."""
    kept = set(sorted({s[0] for s in samples if s[column] > 0})[warmup:])
    return summarize_ns([s[column] for s in samples if s[0] in kept and s[column] > 0])


def _ttq_slowest(samples: list[list[int]], warmup: int, n: int = 20) -> list[dict[str, float]]:
    """The slowest orders (to onOutgoing), where in the run and where their time went: for
    the p99, whose causes (a collection, a periodic task, a wake-up) show as patterns."""
    kept = set(sorted({s[0] for s in samples if s[2] > 0})[warmup:])
    if not kept:
        return []
    start = min(kept)
    slowest = sorted((s for s in samples if s[0] in kept and s[2] > 0), key=lambda s: -s[2])
    return [
        {
            "at_ms": round((s[0] - start) / 1e6, 1),
            "onoutgoing_us": round(s[2] / 1e3),
            "x_handling_starts_us": round(s[3] / 1e3),
            "requote_pass_starts_us": round(s[4] / 1e3),
        }
        for s in slowest[:n]
    ]


def _tenth(samples: list[int], first: bool) -> list[int]:
    size = max(1, len(samples) // 10)
    return samples[:size] if first else samples[-size:]


def _ttq_first(samples: list[list[int]], warmup: int, column: int) -> dict[str, float]:
    """The first order of each tick only."""
    first: dict[int, int] = {}
    for sample in samples:
        if sample[column] > 0:
            first[sample[0]] = min(first.get(sample[0], sample[column]), sample[column])
    triggers = sorted(first)[warmup:]
    return summarize_ns([first[t] for t in triggers])


def _reflex(samples: list[list[int]], warmup: int, column: int) -> dict[str, float]:
    """The reflex's latency to ``column`` (1: sendToTarget returned, 2: onOutgoing) from
    fromApp, the first ``warmup`` ticks left out, as tick to quote leaves them out."""
    return summarize_ns([s[column] - s[0] for s in samples[warmup:] if s[column] >= s[0]])


def _per_msg_ratio(on: float | None, off: float | None) -> float | None:
    if not on or not off:
        return None
    return round(on / off, 3)


def build_report(
    mode: Mode,
    seed: int,
    facts: dict,
    runs: dict[str, dict],
    elapsed_s: float,
    extra: dict[str, dict] | None = None,
) -> dict:
    extra = extra or {}
    baseline, core, journal = runs["baseline"], runs["truex"], runs["truex_journal"]
    rate_base = baseline["md"]["sustained_msgs_per_s"]
    rate_core = core["md"]["sustained_msgs_per_s"]
    rate_journal = journal["md"]["sustained_msgs_per_s"]
    rtt_base = summarize_ns(baseline["rtt"]["rtt_ns"])
    rtt_core = summarize_ns(core["rtt"]["rtt_ns"])
    rtt_journal = summarize_ns(journal["rtt"]["rtt_ns"])
    ttq_samples = journal["ttq"]["samples"]
    ttq_tap = _ttq(ttq_samples, mode.warmup, 2)
    # most ticks send two replaces (bid and ask), the reflex one: its peer is our first order
    first_tap = _ttq_first(ttq_samples, mode.warmup, 2)
    report: dict[str, Any] = {
        "mode": mode.name,
        "seed": seed,
        "machine": {**facts, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "elapsed_s": round(elapsed_s, 1),
        "md_throughput_ratio": _ratio(rate_core, rate_base),
        "md_throughput_msgs_per_s": {
            "baseline": rate_base,
            "truex_qf": rate_core,
            "truex_qf_journal": rate_journal,
            "saturation_baseline": baseline["md"]["saturation"]["receive_rate"],
            "saturation_truex_qf": core["md"]["saturation"]["receive_rate"],
            "saturation_truex_qf_journal": journal["md"]["saturation"]["receive_rate"],
            "baseline_sender_bound": baseline["md"]["sustained_sender_bound"],
            "ratio_with_journal": _ratio(rate_journal, rate_base),
        },
        "decision_lag_us": {
            "truex_qf": core["md"].get("sustained_decision_lag_us") or {"n": 0},
            "truex_qf_journal": journal["md"].get("sustained_decision_lag_us") or {"n": 0},
            "measured": "per quote decision, in the sustained-rate trial: from the fromApp "
            "received_ns of the oldest message it covers to the end of the decision",
            "target_p99_us": DECISION_LAG_P99_US,
        },
        "md_cpu_us_per_msg": {
            "reference_rate_msgs_per_s": core["md"]["reference_rate"],
            "baseline": baseline["md"]["reference"]["cpu_us_per_msg"],
            "truex_qf": core["md"]["reference"]["cpu_us_per_msg"],
            "truex_qf_journal": journal["md"]["reference"]["cpu_us_per_msg"],
            "ratio_baseline_to_truex_qf": _ratio(
                baseline["md"]["reference"]["cpu_us_per_msg"],
                core["md"]["reference"]["cpu_us_per_msg"],
            ),
        },
        "order_rtt_ratio": _ratio(rtt_core.get("p50"), rtt_base.get("p50")),
        "order_rtt_us": {
            "baseline": rtt_base,
            "truex_qf": rtt_core,
            "truex_qf_journal": rtt_journal,
            "p99_ratio": _ratio(rtt_core.get("p99"), rtt_base.get("p99")),
            "baseline_build_and_send_to_target": summarize_ns(baseline["rtt"]["send_ns"]),
            "truex_qf_to_new_report": summarize_ns(core["rtt"]["rtt_to_new_ns"]),
            "truex_qf_breakdown": {
                "decide_draft_risk_track": summarize_ns(core["rtt"]["decide_ns"]),
                "send_build_and_send_to_target": summarize_ns(core["rtt"]["send_ns"]),
                "wire_and_venue_to_pending_new_callback": summarize_ns(
                    core["rtt"]["first_wire_ns"]
                ),
                "inbound_pending_new_callback_to_applied": summarize_ns(
                    core["rtt"]["first_inbound_ns"]
                ),
                "wire_and_venue_to_new_callback": summarize_ns(core["rtt"]["wire_ns"]),
                "inbound_new_callback_to_applied": summarize_ns(core["rtt"]["inbound_ns"]),
                "venue_fromapp": core["venue"].get("venue_fromapp_us", {}),
                # the order manager keeps every order it ever saw: the risk check scans them
                "decide_first_tenth": summarize_ns(_tenth(core["rtt"]["decide_ns"], first=True)),
                "decide_last_tenth": summarize_ns(_tenth(core["rtt"]["decide_ns"], first=False)),
            },
        },
        "tick_to_quote_us": {
            **ttq_tap,
            "first_order": {"p50": first_tap.get("p50"), "p99": first_tap.get("p99")},
            "measured": "X fromApp received_ns -> 35=D/G at the engine log onOutgoing "
            "(journal on); every order (p50, p99...); first_order: the first order of each "
            "tick only (most ticks send two, the second behind the first's socket write)",
        },
        "tick_to_quote_detail_us": {
            "first_order_per_tick_onoutgoing": first_tap,
            "to_send_to_target_return_journal": _ttq(ttq_samples, mode.warmup, 1),
            "to_send_to_target_return_no_journal": _ttq(core["ttq"]["samples"], mode.warmup, 1),
            "first_order_x_handling_starts": _ttq_first(ttq_samples, mode.warmup, 3),
            "first_order_requote_pass_starts": _ttq_first(ttq_samples, mode.warmup, 4),
            "first_order_x_handling_starts_no_journal": _ttq_first(
                core["ttq"]["samples"], mode.warmup, 3
            ),
            "first_order_requote_pass_starts_no_journal": _ttq_first(
                core["ttq"]["samples"], mode.warmup, 4
            ),
            "first_order_send_return_no_journal": _ttq_first(
                core["ttq"]["samples"], mode.warmup, 1
            ),
            "x_processed": journal["ttq"]["x_processed"],
            "orders_sent": journal["ttq"]["orders_sent"],
            "slowest": _ttq_slowest(ttq_samples, mode.warmup),
        },
        "journal_cost_ratio": round(1 - rate_journal / rate_core, 3) if rate_core else 0.0,
        "journal": {
            "on_msgs_per_s": rate_journal,
            "off_msgs_per_s": rate_core,
            "saturation_cost_ratio": round(
                1
                - journal["md"]["saturation"]["receive_rate"]
                / core["md"]["saturation"]["receive_rate"],
                3,
            ),
            "cpu_cost_ratio": round(
                1
                - core["md"]["reference"]["cpu_us_per_msg"]
                / journal["md"]["reference"]["cpu_us_per_msg"],
                3,
            ),
            # where the CPU went: the client process without the Pipeline ("off") and with it
            # (its hooks run there, the journal's tap among them), and the journal's process
            "client_cpu_us_per_msg_off": core["md"]["reference"].get("client_cpu_us_per_msg"),
            "client_cpu_us_per_msg_on": journal["md"]["reference"].get("client_cpu_us_per_msg"),
            "writer_process_cpu_us_per_msg": round(
                journal["md"]["reference"]["cpu_us_per_msg"]
                - (journal["md"]["reference"].get("client_cpu_us_per_msg") or 0.0),
                1,
            ),
            "tap_us": journal["client_final"].get("tap_us", {}),
            "writer": journal["client_final"].get("writer", {}),
        },
        "runs": _without_samples(runs),
    }
    reflex_run = runs.get("reflex")
    if reflex_run is not None:
        reflex_samples = reflex_run["reflex"]["samples"]
        reflex = _reflex(reflex_samples, mode.warmup, 2)
        report["reflex_us"] = {
            **reflex,
            "to_send_to_target_return": _reflex(reflex_samples, mode.warmup, 1),
            "x_answered": reflex_run["reflex"]["x_answered"],
            "callback_failures": reflex_run["reflex"]["callback_failures"],
            "measured": "bare QuickFIX (empty callbacks, no thread state kept) answering each "
            "35=X of tick to quote's stream (same generator, rate and count, each X moving the "
            "top of book) with a prebuilt 35=D, sendToTarget from fromApp: from perf_counter_ns "
            "at fromApp's entry to the D at its engine log's onOutgoing (a Python fix.Log that "
            "only stamps), the first warmup ticks left out",
        }
        report["tick_to_quote_ratio"] = {
            "p50": _ratio(ttq_tap.get("p50"), reflex.get("p50")),
            "p99": _ratio(ttq_tap.get("p99"), reflex.get("p99")),
            "first_order": {
                "p50": _ratio(first_tap.get("p50"), reflex.get("p50")),
                "p99": _ratio(first_tap.get("p99"), reflex.get("p99")),
            },
            "measured": "ours / reflex: ours is tick_to_quote_us (from perf_counter_ns at "
            "TruexApplication.fromApp's entry for the 35=X to the 35=D/G at the engine log's "
            "onOutgoing, journal on, every order: two replaces per tick, the second later); "
            "the reflex is reflex_us, measured between the same two hooks with one order per "
            "tick; first_order compares only the first order of each tick",
            "target_p50": 1.5,
        }
    reference = extra.get("reference_to_quote", {}).get("reference_to_quote_us")
    if reference is not None:
        stream = reference.get("stream", {})
        report["reference_to_quote_us"] = {
            "p50": stream.get("p50"),
            "p99": stream.get("p99"),
            "stream": stream,
            "rest_poll": reference.get("rest_poll", {}),
            "measured": "bench.reference_to_quote in a process of its own: a simulated "
            "reference tick (SimulatedReference.set on a loopback websocket) to the replace "
            "handed to the engine (MarketMaker's send), quoting off the reference over real "
            "QuickFIX sessions against the simulator; p50/p99 are the websocket stream's, "
            "rest_poll the same through the 1 s REST poll (ticks at a random phase of it)",
            "target_p50_us": 1000,
        }
    on_cpu = journal["md"]["reference"].get("client_cpu_us_per_msg")
    off_cpu = core["md"]["reference"].get("client_cpu_us_per_msg")
    report["journal_client_cpu_ratio"] = _per_msg_ratio(on_cpu, off_cpu)
    report["journal"]["client_cpu"] = {
        "ratio_on_over_off": report["journal_client_cpu_ratio"],
        "client_cpu_us_per_msg_on": on_cpu,
        "client_cpu_us_per_msg_off": off_cpu,
        "journal_process_cpu_us_per_msg": report["journal"]["writer_process_cpu_us_per_msg"],
        "measured": "at the common reference rate, CPU per market-data message of the trading "
        "process alone (time.process_time: every thread of it, the engine's, the loop, the "
        "store writer), from the trial's start until the writers had drained; on = with the "
        "Pipeline (journal tap, store, metrics, alerts), off = without; the journal's own "
        "process (/proc/PID/stat utime+stime) is journal_process_cpu_us_per_msg, not in the "
        "ratio",
        "target": 1.1,
    }
    soak = extra.get("soak")
    if soak is not None:
        report["soak"] = soak
    quiet, busy = extra.get("backtest_quiet"), extra.get("backtest_busy")
    if quiet is not None and busy is not None:
        report["backtest_x_real_time"] = {
            "quiet": quiet["row"]["x_real_time"],
            "busy": busy["row"]["x_real_time"],
            "quiet_run": quiet["row"],
            "busy_run": busy["row"],
            "measured": "bench.backtest_speed in a process of its own: a seeded synthetic "
            "capture (bench.synthetic_capture, a few levels a side, a trade at the touch about "
            "one message in three) replayed by the backtest with a strategy quoting at the "
            "touch, the run written to a SQLite store; virtual seconds of market per wall "
            "second, replay start to the store drained; quiet 1 msg/s, busy 20 msg/s",
            "target_quiet": BACKTEST_QUIET_TARGET,
        }
    kept = runs.get("baseline_kept")
    if kept is not None:  # bare QuickFIX whose engine thread keeps its thread state
        rate_kept = kept["md"]["sustained_msgs_per_s"]
        report["md_throughput_msgs_per_s"].update(
            baseline_thread_state_kept=rate_kept,
            baseline_thread_state_kept_sender_bound=kept["md"]["sustained_sender_bound"],
            ratio_to_baseline_thread_state_kept=_ratio(rate_core, rate_kept),
        )
        report["md_cpu_us_per_msg"]["baseline_thread_state_kept"] = kept["md"]["reference"][
            "cpu_us_per_msg"
        ]
    floor = [
        _floor_rung(steps, runs[_floor_key(steps)], rate_base)
        for steps in range(1, len(FLOOR_STEPS) + 1)
        if _floor_key(steps) in runs
    ]
    if floor:
        report["md_floor"] = floor
    report["targets"] = _targets(report)
    return report


def _floor_key(steps: int) -> str:
    # the first rung keeps the key (and the JSON figures) it had as the fourth pair
    return "baseline_kept" if steps == 1 else f"floor_{steps}"


def _floor_rung(steps: int, run: dict, rate_base: float) -> dict[str, Any]:
    """One floor receiver's figures, with its ratio to the baseline's sustained rate."""
    md = run["md"]
    return {
        "steps": [name for name, _ in FLOOR_STEPS[:steps]],
        "label": FLOOR_STEPS[steps - 1][1],
        "sustained_msgs_per_s": md["sustained_msgs_per_s"],
        "sustained_sender_bound": md["sustained_sender_bound"],
        "saturation_msgs_per_s": md["saturation"]["receive_rate"],
        "cpu_us_per_msg": md["reference"]["cpu_us_per_msg"],
        "ratio_to_baseline": _ratio(md["sustained_msgs_per_s"], rate_base),
        "callback_failures": run["client_final"].get("callback_failures", 0),
        "book_inconsistency": run["client_final"].get("book_inconsistency"),
    }


RAW_SAMPLE_KEYS = (
    "samples",
    "rtt_ns",
    "rtt_to_new_ns",
    "first_wire_ns",
    "first_inbound_ns",
    "decide_ns",
    "send_ns",
    "wire_ns",
    "inbound_ns",
)


def _without_samples(runs: dict[str, dict]) -> dict[str, dict]:
    """The runs as measured, with per-sample lists replaced by their summaries."""
    slim: dict[str, dict] = {}
    for name, run in runs.items():
        slim[name] = dict(run)
        for part in ("rtt", "ttq", "reflex"):
            if part in run:
                slim[name][part] = {
                    key: (summarize_ns(value) if key != "samples" else len(value))
                    if key in RAW_SAMPLE_KEYS
                    else value
                    for key, value in run[part].items()
                }
    return slim


def _targets(report: dict) -> list[dict[str, Any]]:
    values = {
        "md_throughput_ratio": report["md_throughput_ratio"],
        "tick_to_quote_p50_us": report["tick_to_quote_us"].get("p50"),
        "tick_to_quote_p99_us": report["tick_to_quote_us"].get("p99"),
        "order_rtt_ratio": report["order_rtt_ratio"],
        "journal_cost_ratio": report["journal_cost_ratio"],
        "decision_lag_p99_us": report["decision_lag_us"]["truex_qf"].get("p99"),
        "tick_to_quote_ratio_p50": report.get("tick_to_quote_ratio", {}).get("p50"),
        "reference_to_quote_p50_us": report.get("reference_to_quote_us", {}).get("p50"),
        "journal_client_cpu_ratio": report.get("journal_client_cpu_ratio"),
        "soak_rss_growth_ratio": report.get("soak", {}).get("rss_growth_ratio"),
        "backtest_x_real_time_quiet": report.get("backtest_x_real_time", {}).get("quiet"),
    }
    may_be_zero = {"journal_cost_ratio", "soak_rss_growth_ratio"}
    checks = {
        ">=": lambda v, t: v >= t,
        "<": lambda v, t: v < t,
        "<=": lambda v, t: v <= t,
    }
    rows = []
    for name, (op, target) in TARGETS.items():
        value = values[name]
        measured = value is not None and (value > 0 or name in may_be_zero)
        passed = measured and checks[op](value, target)
        rows.append(
            {"name": name, "value": value, "target": f"{op} {target:g}", "pass": bool(passed)}
        )
    return rows


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float | int):
        return f"{value:,.{digits}f}"
    return str(value)


def _wake_limit_text(facts: dict[str, Any]) -> str:
    """The PM QoS wake-up limit the run was measured under (the kernel's default: none)."""
    limit = facts.get("cpu_wake_latency_limit_us")
    if limit is None:
        return "CPU wake-up limit unknown"
    if limit >= 2_000_000_000:
        return "no CPU wake-up limit"
    return f"CPU wake-up limit {limit} us"


def _placement_text(facts: dict[str, Any]) -> str:
    """Where each pair's processes ran (bench.orchestrate.Placement)."""
    placement = facts.get("placement") or {}
    if not placement.get("pinned"):
        return f"unpinned ({placement.get('why', 'no placement')})"
    return f"client on CPU {placement['client_cpu']}, venue on CPU {placement['venue_cpu']}"


def render_table(report: dict) -> str:
    facts = report["machine"]
    md = report["md_throughput_msgs_per_s"]
    rtt = report["order_rtt_us"]
    ttq = report["tick_to_quote_us"]
    detail = report["tick_to_quote_detail_us"]
    journal = report["journal"]
    status = {row["name"]: ("PASS" if row["pass"] else "MISS") for row in report["targets"]}
    lines = [
        f"truex-qf benchmark ({report['mode']}, seed {report['seed']}, "
        f"{report['elapsed_s']:.0f} s)",
        f"{facts['cpu']}, {facts['cores']} cores, Python {facts['python']}, "
        f"QuickFIX {facts['quickfix']}, {facts['platform']}, "
        f"load {facts['load_average_at_start']} -> {facts['load_average_at_end']}, "
        f"cpuidle {facts['cpuidle_driver']}, {_wake_limit_text(facts)}, "
        f"{_placement_text(facts)}",
        "",
        f"{'measure':<40}{'baseline':>12}{'truex-qf':>12}{'ratio':>8}  {'target':<9}status",
        "-" * 89,
    ]

    def row(name: str, base: Any, ours: Any, ratio: Any, target: str, state: str) -> None:
        lines.append(f"{name:<40}{base:>12}{ours:>12}{ratio:>8}  {target:<9}{state}")

    row(
        "md sustained, msg/s (no backlog)",
        _fmt(md["baseline"]),
        _fmt(md["truex_qf"]),
        _fmt(report["md_throughput_ratio"], 2),
        ">= 0.8",
        status["md_throughput_ratio"],
    )
    row(
        "  md saturation, msg/s",
        _fmt(md["saturation_baseline"]),
        _fmt(md["saturation_truex_qf"]),
        _fmt(_ratio(md["saturation_truex_qf"], md["saturation_baseline"]), 2),
        "",
        "info",
    )
    lag = report.get("decision_lag_us", {}).get("truex_qf", {})
    lag_p99 = lag.get("p99")
    row(
        "  decision lag p50/p99 at sustained, us",
        "",
        _pair(lag),
        "",
        f"<= {DECISION_LAG_P99_US}",
        "info" if lag_p99 is None else ("PASS" if lag_p99 <= DECISION_LAG_P99_US else "MISS"),
    )
    cpu = report["md_cpu_us_per_msg"]
    row(
        f"  md CPU us/msg at {_fmt(cpu['reference_rate_msgs_per_s'])} msg/s",
        _fmt(cpu["baseline"], 1),
        _fmt(cpu["truex_qf"], 1),
        _fmt(cpu["ratio_baseline_to_truex_qf"], 2),
        "",
        "info",
    )
    if "baseline_thread_state_kept" in md:
        row(
            "  md sustained vs bare, thread state kept",
            _fmt(md["baseline_thread_state_kept"]),
            _fmt(md["truex_qf"]),
            _fmt(md["ratio_to_baseline_thread_state_kept"], 2),
            "",
            "info",
        )
    row(
        "tick to quote p50, us",
        "",
        _fmt(ttq.get("p50"), 1),
        "",
        "< 150",
        status["tick_to_quote_p50_us"],
    )
    row(
        "tick to quote p99, us",
        "",
        _fmt(ttq.get("p99"), 1),
        "",
        "< 1000",
        status["tick_to_quote_p99_us"],
    )
    row("tick to quote p99.9, us", "", _fmt(ttq.get("p999"), 1), "", "", "info")
    reflex = report.get("reflex_us")
    if reflex is not None:
        ratio = report["tick_to_quote_ratio"]
        row(
            "tick to quote p50 vs reflex, us",
            _fmt(reflex.get("p50"), 1),
            _fmt(ttq.get("p50"), 1),
            _fmt(ratio["p50"], 2),
            "<= 1.5",
            status["tick_to_quote_ratio_p50"],
        )
        row(
            "tick to quote p99 vs reflex, us",
            _fmt(reflex.get("p99"), 1),
            _fmt(ttq.get("p99"), 1),
            _fmt(ratio["p99"], 2),
            "",
            "info",
        )
    first = ttq["first_order"]
    if reflex is not None:
        ratio = report["tick_to_quote_ratio"]["first_order"]
        for stat in ("p50", "p99"):
            row(
                f"  first order per tick {stat} vs reflex, us",
                _fmt(reflex.get(stat), 1),
                _fmt(first.get(stat), 1),
                _fmt(ratio[stat], 2),
                "",
                "info",
            )
    else:
        row("  first order per tick p50/p99, us", "", _pair(first), "", "", "info")
    row(
        "  to sendToTarget return, no journal",
        "",
        _pair(detail["to_send_to_target_return_no_journal"]),
        "",
        "",
        "info",
    )
    row(
        "order RTT p50, us (D to first 35=8)",
        _fmt(rtt["baseline"].get("p50"), 1),
        _fmt(rtt["truex_qf"].get("p50"), 1),
        _fmt(report["order_rtt_ratio"], 2),
        "<= 1.3",
        status["order_rtt_ratio"],
    )
    row(
        "order RTT p99, us",
        _fmt(rtt["baseline"].get("p99"), 1),
        _fmt(rtt["truex_qf"].get("p99"), 1),
        _fmt(rtt["p99_ratio"], 2),
        "",
        "info",
    )
    to_new = rtt["truex_qf_to_new_report"]
    row("  D to the New report p50/p99, us", "", _pair(to_new), "", "", "info")
    row(
        "journal cost, 1 - on/off",
        "",
        f"{_fmt(journal['on_msgs_per_s'])}/{_fmt(journal['off_msgs_per_s'])}",
        _fmt(report["journal_cost_ratio"], 3),
        "< 0.10",
        status["journal_cost_ratio"],
    )
    row(
        "  journal CPU cost at the same load",
        "",
        "",
        _fmt(journal["cpu_cost_ratio"], 3),
        "",
        "info",
    )
    row(
        "  CPU us/msg: client bare/+Pipeline, journal proc",
        "",
        f"{_fmt(journal.get('client_cpu_us_per_msg_off'), 1)}/"
        f"{_fmt(journal.get('client_cpu_us_per_msg_on'), 1)}, "
        f"{_fmt(journal.get('writer_process_cpu_us_per_msg'), 1)}",
        "",
        "",
        "info",
    )
    row(
        "  client CPU us/msg, journal on/off",
        "",
        f"{_fmt(journal.get('client_cpu_us_per_msg_on'), 1)}/"
        f"{_fmt(journal.get('client_cpu_us_per_msg_off'), 1)}",
        _fmt(report.get("journal_client_cpu_ratio"), 2),
        "<= 1.1",
        status["journal_client_cpu_ratio"],
    )
    tap = journal["tap_us"]
    writer = journal["writer"]
    row(
        "  tap p50/p99/max, us (engine thread)",
        "",
        f"{_fmt(tap.get('p50'), 1)}/{_fmt(tap.get('p99'), 1)}/{_fmt(tap.get('max'), 0)}",
        "",
        "",
        "info",
    )
    row(
        "  writer queue depth max / after drain",
        "",
        f"{writer.get('queue_depth_max_while_trading', '-')}/"
        f"{writer.get('queue_depth_after_drain', '-')}",
        "",
        "",
        "info",
    )
    reference = report.get("reference_to_quote_us")
    if reference is not None:
        row(
            "reference to quote p50/p99, us",
            "",
            _pair(reference),
            "",
            "<= 1000",
            status["reference_to_quote_p50_us"],
        )
        poll = reference["rest_poll"]
        row("  through the REST poll p50/p99, us", "", _pair(poll), "", "", "info")
    soak = report.get("soak")
    if soak is not None:
        rss = soak["rss_mib"]
        row(
            f"soak RSS MiB start/end ({soak['md_messages']:,} X)",
            "",
            f"{_fmt(rss['start'], 1)}/{_fmt(rss['end'], 1)}",
            _fmt(soak["rss_growth_ratio"], 3),
            "<= 0.1",
            status["soak_rss_growth_ratio"],
        )
        grew = ", ".join(soak["structures"]["grew"]) or "none"
        lines.append(
            f"  soak: {soak['orders']:,} orders, {soak['fills']:,} fills; structures that grew: "
            f"{grew}"
        )
    backtest = report.get("backtest_x_real_time")
    if backtest is not None:
        quiet, busy = backtest["quiet_run"], backtest["busy_run"]
        row(
            f"backtest x real time, 1 msg/s ({quiet['capture_s']:,} s)",
            "",
            _fmt(backtest["quiet"], 0),
            "",
            f">= {BACKTEST_QUIET_TARGET}",
            status["backtest_x_real_time_quiet"],
        )
        row(f"  20 msg/s ({busy['capture_s']:,} s)", "", _fmt(backtest["busy"], 0), "", "", "info")
    floor = report.get("md_floor")
    if floor:
        lines += [
            "",
            "floor: bare QuickFIX doing truex-qf's per-message work up to the decision, md only",
            f"{'receiver':<40}{'msg/s':>12}{'CPU us/msg':>12}{'ratio':>8}",
            "-" * 72,
        ]
        for rung in floor:
            lines.append(
                f"{'  ' + rung['label']:<40}{_fmt(rung['sustained_msgs_per_s']):>12}"
                f"{_fmt(rung['cpu_us_per_msg'], 1):>12}{_fmt(rung['ratio_to_baseline'], 2):>8}"
                + ("  sender-bound" if rung["sustained_sender_bound"] else "")
            )
        lines.append(
            f"{'  truex-qf (+ Runner, decision, orders)':<40}{_fmt(md['truex_qf']):>12}"
            f"{_fmt(cpu['truex_qf'], 1):>12}{_fmt(report['md_throughput_ratio'], 2):>8}"
        )
    if md.get("baseline_sender_bound"):
        lines.append("note: the baseline's sustained rate is bounded by the sender")
    return "\n".join(lines)


DECISION_LAG_P99_US = 1000  # issue 19: beside the throughput target, reported, not asserted
# issue 21: x real time for a quiet book, reported, not asserted
BACKTEST_QUIET_TARGET = round(TARGETS["backtest_x_real_time_quiet"][1])


def _pair(summary: dict) -> str:
    return f"{_fmt(summary.get('p50'), 0)}/{_fmt(summary.get('p99'), 0)}"
