"""Running one pair: paced trials for the sustained rate, tick to quote, order round trips."""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import (
    AUTO,
    LAG_LIMIT_S,
    MAX_TRIAL_MESSAGES,
    SENDER_BOUND,
    WRITER_DRAIN_LIMIT_S,
    BenchError,
    Mode,
)
from bench.receivers import client_main
from bench.venue import venue_main
from truex_qf.domain.netutil import free_port


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where each pair's processes run: the receiver (client) on one CPU, the sender (venue)
    on another, the same for every pair; None: wherever the scheduler puts them.

    Co-located on two vCPUs, the venue's order handling (~160 us a 35=D) was scheduled onto the
    client's core in the middle of its socket write, and the second order of a tick waited
    behind it (docs/performance.md, "What tick to quote includes"): a remote venue never shares
    our core. The truex-qf client's journal process is moved to the venue's CPU once started:
    it is a process of its own so that it runs beside the trading process, not on its core, and
    with a remote venue the second CPU would be its own."""

    client_cpu: int | None = None
    venue_cpu: int | None = None

    @classmethod
    def choose(cls, pin: bool) -> Placement:
        """The last usable CPU for the client, the first for the venue, if there are two."""
        usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if not pin or len(usable) < 2:
            return cls()
        return cls(client_cpu=usable[-1], venue_cpu=usable[0])

    def describe(self, pin: bool) -> dict[str, Any]:
        pinned = self.client_cpu is not None
        return {
            "pinned": pinned,
            "client_cpu": self.client_cpu,
            "venue_cpu": self.venue_cpu,
            "journal_process": "the venue's CPU (moved there once started by the client)"
            if pinned
            else "unpinned",
            "orchestrator_and_single_process_modules": "unpinned (reference_to_quote, soak, "
            "backtest_speed: one process each, venue and client threads together)",
            "why": "pinned: a remote venue does not share our core"
            if pinned
            else ("--no-pin" if not pin else "fewer than two usable CPUs"),
        }


def observed_affinity(pid: int | None) -> dict[str, Any]:
    """The CPUs every thread of ``pid`` may run on, and those of its child processes (the
    journal's), read back from the kernel: the placement as it was, not as it was asked."""
    if pid is None:
        return {}
    cpus: set[int] = set()
    threads = 0
    children: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            cpus |= os.sched_getaffinity(int(task.name))
            threads += 1
            children += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        return {"threads": threads, "cpus": sorted(cpus)}
    observed: dict[str, Any] = {"threads": threads, "cpus": sorted(cpus)}
    if children:
        observed["child_processes"] = [observed_affinity(child) for child in children]
    return observed


def move_children(pid: int | None, cpu: int | None) -> None:
    """Every thread of every child process of ``pid`` (the journal's) onto ``cpu``; threads
    they start later inherit it."""
    if pid is None or cpu is None:
        return
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            with contextlib.suppress(OSError):  # a child that has just ended
                for _ in range(2):  # again, for a thread started while the first pass ran
                    for thread in Path(f"/proc/{child}/task").iterdir():
                        os.sched_setaffinity(int(thread.name), {cpu})


class Peer:
    """A child process and the pipe its commands go through; every wait is bounded."""

    def __init__(self, name: str, target: Callable[..., None], config: dict[str, Any]) -> None:
        context = multiprocessing.get_context("spawn")
        self.name = name
        self.conn, child_conn = context.Pipe()
        # Not a daemon: the truex-qf client starts the journal's writer process, and daemonic
        # processes may not have children. close() ends it, killing it if need be.
        self.process = context.Process(
            target=target, args=(child_conn, config), name=name, daemon=False
        )
        self.process.start()
        child_conn.close()
        self.pid: int | None = None

    def receive(self, timeout_s: float, what: str) -> Any:
        deadline = time.monotonic() + timeout_s
        while not self.conn.poll(0.2):
            if not self.process.is_alive():
                raise BenchError(f"{self.name} exited ({self.process.exitcode}) during {what}")
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name}: no answer to {what} within {timeout_s:.0f} s")
        status, payload = self.conn.recv()
        if status != "ok":
            raise BenchError(f"{self.name} failed during {what}:\n{payload}")
        return payload

    def ready(self, timeout_s: float) -> None:
        self.pid = self.receive(timeout_s, "start")["pid"]

    def call(self, command: str, wait_s: float, **args: Any) -> Any:
        """Send ``command`` with ``args``; its answer within ``wait_s`` or a BenchError."""
        self.conn.send((command, args))
        return self.receive(wait_s, command)

    def close(self) -> None:
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


class Profiler:
    """``py-spy record`` on one child for the length of its measurements (``--py-spy``)."""

    def __init__(self, directory: Path | None, name: str, pid: int | None) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        if directory is None or pid is None:
            return
        py_spy = Path(sys.executable).with_name("py-spy")
        if not py_spy.exists():
            print(f"  --py-spy: no {py_spy}; not profiling", file=sys.stderr)
            return
        directory.mkdir(parents=True, exist_ok=True)
        self.output = directory / f"{name}.txt"
        self.process = subprocess.Popen(
            [
                *(str(py_spy), "record", "--pid", str(pid), "--rate", "250", "--nonblocking"),
                *("--format", "raw", "--output", str(self.output)),
                *os.environ.get("BENCH_PY_SPY_ARGS", "").split(),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # let it attach

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        print(f"  py-spy profile: {self.output}", file=sys.stderr)


def paced_trial(
    venue: Peer, client: Peer, n: int, rate: float | None, trial_s: float, drain: bool = False
) -> dict[str, Any]:
    """One market-data measurement: N messages at ``rate`` (None: as fast as possible)."""
    client.call("md_begin", 10, n=n)
    sent = venue.call("stream", 60 + n / 500 + trial_s * 3, n=n, rate=rate)
    wait_s = 10 + n / 1000 + trial_s * 2  # at least 1000 msg/s, or the run is broken anyway
    received = client.call("md_wait", wait_s + 30, timeout_s=wait_s, drain=drain)
    result: dict[str, Any] = {
        "n": n,
        "target_rate": round(rate, 1) if rate else None,
        "send_rate": round(sent["send_rate"], 1),
        "per_burst": sent["per_burst"],
        "build_us_per_msg": sent["build_us_per_msg"],
        "processed": received["processed"],
        "max_queue_depth": received["max_queue_depth"],
        "orders_sent": received.get("orders_sent", 0),
        "cpu_us_per_msg": round(received["cpu_s"] / max(n, 1) * 1e6, 1),
        "client_cpu_us_per_msg": (
            round(received["own_cpu_s"] / max(n, 1) * 1e6, 1) if "own_cpu_s" in received else None
        ),
    }
    for key in ("decision_lag_us", "decision_lag_loop_us"):
        if key in received:
            result[key] = received[key]
    drain_ms = received.get("writer_drain_ms")
    if drain_ms is not None:
        result["writer_drain_ms"] = drain_ms
    complete = received["done_ns"] > 0 and received["processed"] >= n
    if complete:
        lag_s = (received["done_ns"] - sent["last_ns"]) / 1e9
        result["lag_ms"] = round(lag_s * 1000, 2)
        elapsed_s = (received["done_ns"] - sent["first_ns"]) / 1e9
        result["receive_rate"] = round(n / elapsed_s, 1)
    else:
        result["lag_ms"] = None
        result["receive_rate"] = None
    if rate is not None:
        result["sender_bound"] = sent["send_rate"] < SENDER_BOUND * rate
        result["passed"] = (
            complete
            and result["lag_ms"] <= LAG_LIMIT_S * 1000
            and (drain_ms is None or drain_ms <= WRITER_DRAIN_LIMIT_S * 1000)
        )
    return result


def measure_market_data(
    venue: Peer, client: Peer, mode: Mode, reference_rate: float | str | None
) -> dict[str, Any]:
    """Saturation rate, a search for the highest rate sustained without backlog, and the CPU
    per message at ``reference_rate`` (the same offered load for every receiver).

    A trial passes when the receiver is less than LAG_LIMIT_S behind at the end; its sustained
    figure is the rate the sender actually achieved. A trial whose sender fell short of the
    target (TCP flow control from a receiver that does not read, or a starved sender) bounds
    the search from above at the target, and from below at what was achieved if it passed.
    """
    saturation = paced_trial(venue, client, mode.saturation_n, None, mode.trial_s)
    if saturation["receive_rate"] is None:
        raise BenchError(f"the saturation run did not complete: {saturation}")
    low, high = 0.0, None
    rate = saturation["receive_rate"] * (0.5 if mode.name == "smoke" else 0.9)
    trials = []
    best: dict[str, Any] | None = None
    for _ in range(mode.trials):
        n = min(MAX_TRIAL_MESSAGES, max(100, int(rate * mode.trial_s)))
        trial = paced_trial(venue, client, n, rate, mode.trial_s)
        trials.append(trial)
        if trial["passed"]:
            if best is None or trial["send_rate"] > best["send_rate"]:
                best = trial
            low = max(low, min(rate, trial["send_rate"]))
        if not trial["passed"] or trial["sender_bound"]:
            high = rate if high is None else min(high, rate)
        if high is None:
            rate *= 1.25  # everything passed so far: look higher
        elif low > 0:
            rate = (low + high) / 2
        else:
            rate *= 0.6  # nothing passed yet: look lower
    result: dict[str, Any] = {
        "saturation": saturation,
        "trials": trials,
        "sustained_msgs_per_s": best["send_rate"] if best else 0.0,
        "sustained_sender_bound": bool(best and best["sender_bound"]),
        "sustained_decision_lag_us": best.get("decision_lag_us") if best else None,
    }
    if reference_rate == AUTO:
        reference_rate = max(100.0, round(0.5 * result["sustained_msgs_per_s"]))
    if isinstance(reference_rate, float | int):
        n = min(MAX_TRIAL_MESSAGES, max(100, int(reference_rate * mode.trial_s)))
        result["reference"] = paced_trial(
            venue, client, n, reference_rate, mode.trial_s, drain=True
        )
        result["reference_rate"] = reference_rate
    return result


_T0 = time.monotonic()


def _progress(label: str, what: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f} s] {label}: {what}", file=sys.stderr, flush=True)


def run_pair(
    label: str,
    kind: str,
    mode: Mode,
    seed: int,
    journal: bool,
    py_spy: Path | None = None,
    switch_interval_s: float | None = None,
    reference_rate: float | str | None = None,
    floor_steps: int = 0,
    market_data_only: bool = False,
    reflex: bool = False,
    placement: Placement | None = None,
) -> dict[str, Any]:
    """Start a sender and a receiver, run every measurement of ``kind`` (or market data
    alone, or with ``reflex`` the reflex alone: bare QuickFIX answering each tick-to-quote
    35=X with a prebuilt 35=D), stop both, each on its CPU of ``placement``."""
    placement = placement or Placement()
    _progress(label, "starting")
    with tempfile.TemporaryDirectory(prefix="truex-bench-") as temp:
        common = {
            "kind": kind,
            "seed": seed,
            "order_entry_port": free_port(),
            "market_data_port": free_port(),
            "sender_comp_id": (
                f"BENCH{os.getpid() % 10000}{kind[0].upper()}{int(journal)}"
                f"{f'F{floor_steps}' if floor_steps else ''}{'R' if reflex else ''}"
            ),
            "client_id": "10000000000000001",
            "api_key": str(uuid.uuid4()),
            "secret_key": uuid.uuid4().hex,
            "switch_interval_s": switch_interval_s,
            "floor_steps": floor_steps,
            "reflex": reflex,
        }
        venue = Peer(f"{label}-venue", venue_main, {**common, "cpu": placement.venue_cpu})
        client: Peer | None = None
        profiler: Profiler | None = None
        try:
            venue.ready(60)
            client = Peer(
                f"{label}-client",
                client_main,
                {
                    **common,
                    "journal": journal,
                    "state_dir": str(Path(temp) / "state"),
                    "cpu": placement.client_cpu,
                },
            )
            client.ready(90)
            move_children(client.pid, placement.venue_cpu)
            _progress(label, "logged on")
            profiler = Profiler(py_spy, label, client.pid)
            venue.call("snapshot", 30)
            client.call("settle", 30, timeout_s=20.0)
            started = time.monotonic()
            result: dict[str, Any] = {}
            if reflex:
                # the stream of tick to quote: ttq_n X at ttq_rate, each moving the top of book
                _progress(label, "reflex")
                client.call("reflex_begin", 60, n=mode.ttq_n)
                venue.call("stream", 120, n=mode.ttq_n, rate=mode.ttq_rate, move_mid=True)
                result["reflex"] = client.call("reflex_wait", 60, timeout_s=30.0)
                market_data_only = True
            else:
                _progress(label, "market data")
                result["md"] = measure_market_data(venue, client, mode, reference_rate)
            if kind == "truex":
                _progress(label, "tick to quote")
                client.call("ttq_begin", 10, n=mode.ttq_n)
                venue.call("stream", 120, n=mode.ttq_n, rate=mode.ttq_rate, move_mid=True)
                result["ttq"] = client.call("ttq_wait", 60, timeout_s=30.0)
            if not market_data_only:
                _progress(label, "order round trip")
                timeout_s = 30.0 + mode.rtt_n * 0.01
                result["rtt"] = client.call(
                    "rtt", timeout_s + 10, n=mode.rtt_n, warmup=mode.warmup, timeout_s=timeout_s
                )
            result["measure_s"] = round(time.monotonic() - started, 1)
            result["placement_observed"] = {
                "client": observed_affinity(client.pid),
                "venue": observed_affinity(venue.pid),
            }
            if profiler is not None:
                profiler.stop()
                profiler = None
            result["venue"] = venue.call("stats", 30)
            result["client_final"] = client.call("stop", 60)
            result["venue_final"] = venue.call("stop", 30)
            return result
        finally:
            if profiler is not None:
                profiler.stop()
            for peer in (client, venue):
                if peer is not None:
                    peer.close()
