"""Captured market data: the file format (format.py), shared by capture, backtest and paper.

The format module is pure Python (no engine, no network) so that a backtest or a notebook can
read a capture without QuickFIX; the capture session and the journal extraction sit beside it.
"""

from truex_qf.capture.format import (
    CAPTURE_SUFFIX,
    CaptureFormatError,
    CaptureHeader,
    CaptureRecord,
    CaptureStream,
    CaptureWriter,
    FixRecord,
    ReferenceRecord,
    capture_path,
    read_capture,
)

__all__ = [
    "CAPTURE_SUFFIX",
    "CaptureFormatError",
    "CaptureHeader",
    "CaptureRecord",
    "CaptureStream",
    "CaptureWriter",
    "FixRecord",
    "ReferenceRecord",
    "capture_path",
    "read_capture",
]
