"""Records of one logger, for tests that read what the program logged."""

from __future__ import annotations

import logging


class LogCapture(logging.Handler):
    """Records of one logger, caught on the logger itself: the CLI's logging setup turns
    propagation off for ``truex_qf``, so pytest's root-level caplog can miss them."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.logger = logging.getLogger(name)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> LogCapture:
        self.logger.addHandler(self)
        self._level = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self._level)

    def messages(self, min_level: int = logging.DEBUG) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= min_level]
