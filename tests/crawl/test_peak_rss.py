"""A crawl process's printed peak RSS is its own, not its parent's (a bench once printed 677 MB for
crawl processes that never held 300)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_child_peak_rss_is_not_the_parents():
    ballast = b"\x01" * (160 * 2**20)  # this process holds 160 MB when it starts the child
    out = subprocess.run([sys.executable, "-c", "from crawler.crawl import _peak_rss_mb; print(_peak_rss_mb())"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert len(ballast) and float(out) < 120, out
