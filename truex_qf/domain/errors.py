"""Errors a user can cause or meet, each printed by the CLI as one line (never a traceback)."""

from __future__ import annotations


class TruexError(Exception):
    """Base of every error the CLI turns into a one-line message and a non-zero exit."""

    exit_code = 1


class ConfigError(TruexError):
    """A missing or malformed setting; the message names the setting, never its secret value."""

    exit_code = 2

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


class LogonRejectedError(TruexError):
    """The venue refused our Logon (bad signature, unknown CompID, ...), with the venue's text."""

    exit_code = 3


class SessionTimeoutError(TruexError):
    """Something the venue should have answered did not arrive in time."""

    exit_code = 4


class OrderRejectedError(TruexError):
    """The venue rejected an order or a cancel; the message carries the venue's reason."""

    exit_code = 5
