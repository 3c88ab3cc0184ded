"""Fixtures of the storage tests: real SQLite files under tmp_path."""
from __future__ import annotations

import pytest

from storage.db import Store


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store(tmp_path / "nianbao.db")
    yield s
    s.close()
