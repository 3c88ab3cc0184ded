"""robots.txt is policy: a disallowed URL is skipped (a figure in the summary), never a failure,
and `nianbao run` exits 0 for it; a site's own ``obey_robots: true`` holds with the global switch off."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from minisite import MiniPortal  # noqa: E402

from crawler.config import config_from_dict  # noqa: E402
from crawler.crawl import run_crawl  # noqa: E402
from storage.db import Store  # noqa: E402

pytestmark = pytest.mark.timeout(300)
NIANBAO = str(Path(__file__).resolve().parents[2] / ".venv/bin/nianbao")
CRAWL = {"download_delay": 0, "autothrottle": False, "timeout": 5, "retries": 0}


def test_nianbao_run_exits_0_when_robots_txt_disallows_a_link(tmp_path):
    with MiniPortal() as portal:  # its 政务公开 page links /private/nb/, disallowed by its robots.txt
        cfg = tmp_path / "config.yaml"
        cfg.write_text(yaml.safe_dump({
            "database": str(tmp_path / "n.db"), "crawl": CRAWL, "alerts": {"enabled": False},
            "sites": [{"name": "mini", "start_url": portal.base + "/zwgk/"}]}, allow_unicode=True))
        env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
        runs = [subprocess.run([NIANBAO, "--config", str(cfg), "run"], capture_output=True, text=True,
                               timeout=240, env=env) for _ in range(2)]
        assert not portal.requests_to("/private/")
    for out in runs:
        assert out.returncode == 0, out.stdout + out.stderr[-3000:]
        assert "Traceback" not in out.stdout + out.stderr
    with Store(tmp_path / "n.db") as store:
        crawls = store.last_runs(2, kind="crawl")
    for run in crawls:
        stats = run["stats"] if isinstance(run["stats"], dict) else json.loads(run["stats"])
        assert run["status"] == "ok"
        assert stats["sites"]["mini"]["skipped"] == {"robots_disallowed": 1}
        assert stats["sites"]["mini"]["failures"] == {} and stats["failing_sites"] == {}
    assert "keeps failing" not in runs[1].stdout


def test_site_obey_robots_true_holds_with_the_global_setting_off(tmp_path):
    with MiniPortal() as strict, MiniPortal() as lax:
        cfg = config_from_dict({"crawl": {**CRAWL, "obey_robots": False}, "sites": [
            {"name": "strict", "start_url": strict.base + "/zwgk/", "obey_robots": True},
            {"name": "lax", "start_url": lax.base + "/zwgk/"}]})
        summary = run_crawl(cfg, Store(tmp_path / "n.db"), progress=False)
        assert strict.requests_to("/robots.txt") and not strict.requests_to("/private/")
        assert summary.sites["strict"].skipped == {"robots_disallowed": 1}
        # the other site follows the global setting: robots.txt never asked, the page fetched
        assert not lax.requests_to("/robots.txt") and lax.requests_to("/private/nb/")
        assert summary.sites["lax"].skipped == {}
        assert summary.skipped == 1
