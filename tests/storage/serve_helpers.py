"""`nianbao serve` started for a test: on a free 127.0.0.1 port, waited for until it answers, stopped
on exit (SIGTERM, then kill); and Debian's Chromium launched for the browser tests of the served pages.
Shared by the desk, public-mode and browser tests of the served pages."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from storage_helpers import free_port

NIANBAO = os.path.join(os.path.dirname(sys.executable), "nianbao")
#: How long `nianbao serve` may take to answer its first request.
START_SECONDS = 30
#: Debian's Chromium (the Makefile installs it); the browser tests skip when it is missing.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


@contextmanager
def chromium():
    """A headless Chromium through Playwright, closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def serving(db: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            log_dir: Path | None = None) -> Iterator[str]:
    """The base URL of `nianbao serve --db DB --port P --no-open ARGS`; its output goes to
    ``log_dir`` (default: the database's folder)/serve-P.log, quoted when it dies before answering."""
    port = free_port()
    log = Path(log_dir or db.parent) / f"serve-{port}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([NIANBAO, "serve", "--db", str(db), "--port", str(port), "--no-open", *args],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_SECONDS
        try:
            while True:
                try:
                    urllib.request.urlopen(base + "/-/versions.json", timeout=2).read()
                    break
                except OSError:
                    assert proc.poll() is None, log.read_text()
                    assert time.monotonic() < deadline, f"nianbao serve did not start in {START_SECONDS} s"
                    time.sleep(0.2)
            yield base
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
