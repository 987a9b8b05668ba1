"""Fixtures of the storage tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine

from truex_qf.storage.schema import metadata


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:
    """An empty SQLite store with the whole schema, in the test's own folder."""
    sqlite = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    metadata.create_all(sqlite)
    yield sqlite
    sqlite.dispose()
