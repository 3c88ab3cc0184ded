import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "storage"))


import pytest  # noqa: E402


@pytest.fixture
def asked(monkeypatch):
    """The size of every read of parse jobs from the database, with chunks of 4 (PENDING_CHUNK)."""
    import crawler.parse_stage as stage
    from storage.db import Store

    monkeypatch.setattr(stage, "PENDING_CHUNK", 4)
    sizes: list[int] = []
    real = Store.parse_jobs

    def counting(self, *args, **kwargs):
        got = real(self, *args, **kwargs)
        sizes.append(len(got))
        return got

    monkeypatch.setattr(Store, "parse_jobs", counting)
    return sizes
