"""The opt-in CPU wake-up limit: what it writes, how long it holds, and how it refuses."""

from __future__ import annotations

import os
import struct

import pytest

from bench.report import current_limit_us
from truex_qf.app.cpu_wake import (
    DEVICE,
    MAX_US,
    cpu_wake_latency,
    parse_wake_latency,
)
from truex_qf.domain.errors import ConfigError, TruexError


@pytest.mark.parametrize(
    ("text", "limit"), [(None, None), ("", None), ("0", 0), (" 25 ", 25), (str(MAX_US), MAX_US)]
)
def test_parse_accepts_whole_microseconds(text, limit):
    assert parse_wake_latency("--opt", text) == limit


@pytest.mark.parametrize("text", ["-1", "1.5", "abc", "1e3", str(MAX_US + 1)])
def test_parse_refuses_anything_else_naming_the_option(text):
    with pytest.raises(ConfigError) as refused:
        parse_wake_latency("--opt", text)
    assert refused.value.setting == "--opt"


def test_the_limit_is_written_as_the_kernel_reads_it_and_held_until_the_block_ends(tmp_path):
    device = tmp_path / "cpu_dma_latency"
    device.write_bytes(b"")
    opened_before = set(os.listdir("/proc/self/fd"))
    with cpu_wake_latency(7, device):
        assert device.read_bytes() == struct.pack("=i", 7)
        assert len(set(os.listdir("/proc/self/fd")) - opened_before) == 1  # held open
    assert set(os.listdir("/proc/self/fd")) == opened_before  # closing lifts the request


def test_no_limit_asked_touches_nothing(tmp_path):
    with cpu_wake_latency(None, tmp_path / "absent"):
        pass
    assert not (tmp_path / "absent").exists()


def test_asked_for_and_impossible_is_one_clear_error(tmp_path):
    with pytest.raises(TruexError) as refused, cpu_wake_latency(0, tmp_path / "absent"):
        raise AssertionError("the block must not run")
    message = str(refused.value)
    assert "cannot hold the CPU wake-up latency at 0 us" in message
    assert "absent" in message


def test_the_error_in_the_block_still_releases_the_limit(tmp_path):
    device = tmp_path / "cpu_dma_latency"
    device.write_bytes(b"")
    opened_before = set(os.listdir("/proc/self/fd"))
    with pytest.raises(RuntimeError), cpu_wake_latency(3, device):
        raise RuntimeError("the run failed")
    assert set(os.listdir("/proc/self/fd")) == opened_before


@pytest.mark.skipif(
    not os.access(DEVICE, os.R_OK | os.W_OK), reason=f"{DEVICE} is not writable here"
)
def test_the_kernel_applies_the_limit_while_held_and_lifts_it_after():
    before = current_limit_us()
    assert before is not None
    with cpu_wake_latency(0):
        assert current_limit_us() == 0
    assert current_limit_us() == before
