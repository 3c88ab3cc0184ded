"""A night cannot hang: a crawl still going after crawl.max_run_hours is killed and recorded in
`runs` with its reason, and the next run starts normally; a run whose process died is marked."""
from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crawler.config import config_from_dict
from crawler.run import run_once
from storage.db import Store, ts


class _Hangs(BaseHTTPRequestHandler):
    def do_GET(self):  # a portal that accepts the connection and never answers
        time.sleep(120)

    def log_message(self, *args):
        pass


@pytest.fixture
def hanging_portal():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hangs)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_hung_crawl_is_killed_recorded_and_the_next_run_starts(tmp_path, hanging_portal):
    config = config_from_dict({
        "database": str(tmp_path / "n.db"),
        "crawl": {"max_run_hours": 8 / 3600, "timeout": 300, "retries": 0, "obey_robots": False,
                  "download_delay": 0},
        "sites": [{"name": "hangs", "start_url": hanging_portal}],
        "alerts": {"enabled": False},
    }, base_dir=tmp_path)
    with Store(config.database_path()) as store:  # a run from a process killed long ago
        old = store.start_run("run")
        store.conn.execute("UPDATE runs SET started = ? WHERE id = ?",
                           (ts(datetime.now(timezone.utc) - timedelta(days=2)), old))
    started = time.monotonic()
    result = run_once(config, today=date(2025, 2, 1))
    assert time.monotonic() - started < 60
    assert result.exit_code == 1 and "crawl.max_run_hours" in result.crawl.error
    with Store(config.database_path()) as store:
        crawl_row = store.last_runs(kind="crawl")[0]
        assert crawl_row["status"] == "killed" and "crawl.max_run_hours" in crawl_row["error"]
        run_row = store.last_runs(kind="run")[0]
        assert run_row["status"] == "partial" and run_row["finished"]
        stale = next(r for r in store.last_runs(kind="run", limit=10) if r["id"] == old)
        assert stale["status"] == "killed" and "killed" in stale["error"]
    # the next run starts normally (and, without a crawl, goes through)
    nxt = run_once(config, crawl=False, today=date(2025, 2, 1))
    assert nxt.status == "ok" and nxt.parse is not None
