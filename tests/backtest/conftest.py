"""Fixtures of the backtest tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.synthetic_capture import AT_THE_TOUCH


@pytest.fixture
def strategy_file(tmp_path: Path) -> Path:
    """The synthetic capture's at-the-touch strategy (it trades there), as a file."""
    path = tmp_path / "tight.toml"
    path.write_text(AT_THE_TOUCH)
    return path
