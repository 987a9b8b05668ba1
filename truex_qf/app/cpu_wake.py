"""Keep the machine's CPUs out of deep idle while the market maker runs (opt-in).

Tick to quote and the order round trip are measured on a market that is mostly quiet: a
message arrives, the engine thread works for a few hundred microseconds, and the CPU goes idle
until the next one. On the two-vCPU VM the benchmarks run on (cpuidle driver ``haltpoll``,
guest polling off), the same Python requote took 1.7 to 2.2 times as long when the CPU had
been idle for 2 ms before it as when it ran back to back; spinning or touching memory in the
gap instead of sleeping did not slow it (``bench/hot_path.py``'s tick phase, one process).
Waking from a halted vCPU costs more than the wake-up itself: the caches and predictors the
code left warm are gone.

Linux's PM QoS interface caps that: while a process holds ``/dev/cpu_dma_latency`` open with
a number of microseconds written to it, no CPU enters an idle state that takes longer to leave
(0: the CPUs poll instead of halting). Closing the file, or the process ending, lifts the
request. tuned's ``latency-performance`` profile uses the same file. The price is power, and
on a shared host the cycles of a vCPU that would otherwise have slept; so it is off unless the
operator asks for it (``truex-qf run --cpu-wake-latency-us``).
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterator
from pathlib import Path

from truex_qf.domain.errors import ConfigError, TruexError

DEVICE = Path("/dev/cpu_dma_latency")
MAX_US = 2_000_000_000  # the kernel's s32 ceiling, and its "no limit" default


def parse_wake_latency(name: str, value: str | None) -> int | None:
    """The limit in whole microseconds (0 to MAX_US), or None when not given."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not text.isdigit():
        raise ConfigError(name, f"{value!r} must be a whole number of microseconds, 0 or more")
    limit = int(text)
    if limit > MAX_US:
        raise ConfigError(name, f"{limit} is above the kernel's limit of {MAX_US}")
    return limit


@contextlib.contextmanager
def cpu_wake_latency(limit_us: int | None, device: Path = DEVICE) -> Iterator[None]:
    """Hold the CPUs' wake-up latency at ``limit_us`` for the ``with`` block (None: nothing).

    Asked for and impossible (no such file, no permission) raises :class:`TruexError` before
    anything starts, rather than running slower than the operator configured.
    """
    if limit_us is None:
        yield
        return
    try:
        descriptor = os.open(device, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise TruexError(
            f"cannot hold the CPU wake-up latency at {limit_us} us: {device}: {exc.strerror}"
            " (it needs Linux and write access to that file, e.g. running as root)"
        ) from None
    try:
        try:
            os.write(descriptor, struct.pack("=i", limit_us))  # the kernel reads a native s32
        except OSError as exc:
            raise TruexError(
                f"cannot hold the CPU wake-up latency at {limit_us} us: {device}: {exc.strerror}"
            ) from None
        yield
    finally:
        os.close(descriptor)
