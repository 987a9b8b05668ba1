"""Captured market data: the file format (format.py), shared by capture, backtest and paper.

The format module is pure Python (no engine, no network) so that a backtest or a notebook can
read a capture without QuickFIX; the capture session and the journal extraction sit beside it.
The package's names are the format module's public names (its ``__all__``, the one list).
"""

from truex_qf.capture.format import *  # noqa: F403 - re-exports exactly format.__all__
from truex_qf.capture.format import __all__ as __all__
