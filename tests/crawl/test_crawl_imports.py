"""A crawl process does not load numpy (sqlite_utils imports it when installed; nothing in a crawl uses it):
11.6 MB of RSS in each crawl process.  A real crawl child of one site that cannot be reached, then its modules."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from crawler.config import config_from_dict

PROBE = """
import runpy, sys
sys.argv = ["crawler.crawl", *sys.argv[1:]]
try:
    runpy.run_module("crawler.crawl", run_name="__main__")
except SystemExit:
    pass
print("LOADED", sorted(m for m in ("numpy", "pandas", "storage.db", "scrapy") if sys.modules.get(m) is not None))
"""


def test_a_crawl_process_runs_without_numpy(tmp_path: Path):
    config = config_from_dict({"database": str(tmp_path / "x.db"),
                               "crawl": {"timeout": 2, "retries": 0, "obey_robots": False},
                               "sites": [{"name": "gone", "start_url": "http://127.0.0.1:9/"}]}, base_dir=tmp_path)
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(config.model_dump(mode="json", by_alias=True)), encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", PROBE, "--config-json", str(cfg), "--db", str(tmp_path / "x.db"),
                          "--result", str(tmp_path / "result.json")],
                         capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
    loaded = next(line for line in out.stdout.splitlines() if line.startswith("LOADED"))
    assert "storage.db" in loaded and "scrapy" in loaded, out.stderr[-2000:]  # it did crawl and store
    assert "numpy" not in loaded and "pandas" not in loaded
    assert json.loads((tmp_path / "result.json").read_text())["stats"]  # the crawl ran to its end
