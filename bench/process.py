"""What every bench process shares: child setup, the command loop on a pipe, waits, percentiles."""

from __future__ import annotations

import faulthandler
import logging
import math
import os
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from typing import Any

import quickfix as fix

from bench.common import NS_PER_US, BenchError


def summarize_ns(samples_ns: list[int]) -> dict[str, float]:
    """n, mean and percentiles (nearest rank) in microseconds."""
    if not samples_ns:
        return {"n": 0}
    ordered = sorted(samples_ns)

    def rank(q: float) -> float:
        index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
        return round(ordered[index] / NS_PER_US, 1)

    return {
        "n": len(ordered),
        "mean": round(sum(ordered) / len(ordered) / NS_PER_US, 1),
        "p50": rank(0.50),
        "p90": rank(0.90),
        "p99": rank(0.99),
        "p999": rank(0.999),
        "max": round(ordered[-1] / NS_PER_US, 1),
    }


class CountingHandler(logging.Handler):
    """Counts warnings and errors per logger, so a run can show it stayed sane."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()
        self.first: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        key = f"{record.levelname} {record.name}"
        self.counts[key] += 1
        self.first.setdefault(key, record.getMessage()[:200])


def _child_setup(config: dict[str, Any]) -> CountingHandler:
    cpu = config.get("cpu")
    if cpu is not None:
        # first, before any thread starts: every thread of this process, and any process it
        # starts (the truex-qf client's journal writer), inherits the mask
        os.sched_setaffinity(0, {cpu})
    faulthandler.enable(all_threads=True)
    if config.get("switch_interval_s"):
        sys.setswitchinterval(config["switch_interval_s"])
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.ERROR)
    stderr.setFormatter(logging.Formatter("%(processName)s %(name)s %(levelname)s %(message)s"))
    counting = CountingHandler()
    root.addHandler(stderr)
    root.addHandler(counting)
    return counting


def _hard_exit(code: int = 0) -> None:
    """Leave without interpreter teardown: engines are stopped, and QuickFIX's destructors
    racing Python's at exit are a known source of segfaults (quickfix-python-notes §1.8)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


Handlers = dict[str, Callable[..., Any]]


def serve(conn: Any, handlers: Handlers, idle: Callable[[], None] | None = None) -> None:
    """Answer the orchestrator's commands until ``stop``; run ``idle`` while none is pending."""
    while True:
        if idle is not None:
            next_poll = 0.0
            while True:  # the pipe is polled every 5 ms, not on every turn: it is a syscall
                idle()
                now = time.monotonic()
                if now >= next_poll:
                    if conn.poll(0):
                        break
                    next_poll = now + 0.005
        try:
            name, args = conn.recv()
        except (EOFError, OSError):
            handlers["stop"]()
            return
        try:
            result = handlers[name](**args)
        except Exception:
            conn.send(("error", traceback.format_exc()))
        else:
            conn.send(("ok", result))
        if name == "stop":
            return


def _wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.005)


def _session_id(comp_id: str, target: str) -> fix.SessionID:
    return fix.SessionID("FIXT.1.1", comp_id, target)
