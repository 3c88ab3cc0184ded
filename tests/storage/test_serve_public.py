"""`nianbao serve` is read-only whatever is tried, and public mode hides what is not public.

No browser needed: plain HTTP against a real `nianbao serve` on 127.0.0.1.
"""
from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from storage.db import Store

import serve_helpers
from storage_helpers import SEEDS, stage

NIANBAO = os.path.join(os.path.dirname(sys.executable), "nianbao")
PRIVATE = ("outbox", "runs", "fetches", "blobs", "events", "triage", "finding_triage")


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("public")
    path = tmp / "nianbao.db"
    with Store(path) as store:
        stage(store, [SEEDS])  # store, parse, check: as `nianbao ingest`
        store.enqueue_alert(key="k1", recipients=["chief@example.org"], subject="秘密", text="t", html="<p>h</p>",
                            fingerprints=[])
    return path


def serving(db: Path, *extra: str):
    return serve_helpers.serving(db, *extra, cwd=db.parent)


def _open(opener, url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def _write_attempts(base: str, name: str, rid: int):
    """Every way Datasette (0.65 and the 1.0 write API) offers to change a database."""
    sqls = ["delete from reports", "update reports set agency = 'x'", "insert into sites(name) values ('x')",
            "drop table findings", "create table x(a)", "attach database '/tmp/x.db' as x",
            "pragma writable_schema = 1", "vacuum", "replace into sites(name) values ('y')",
            "with t as (select 1) delete from findings", "select 1; delete from reports"]
    for sql in sqls:
        q = urllib.parse.quote(sql)
        yield "GET", f"{base}/{name}.json?sql={q}", None
        yield "GET", f"{base}/{name}?sql={q}", None
        yield "POST", f"{base}/{name}", {"sql": sql}
    api = [f"/{name}/reports/-/insert", f"/{name}/reports/-/upsert", f"/{name}/reports/{rid}/-/update",
           f"/{name}/reports/{rid}/-/delete", f"/{name}/-/create", f"/{name}/reports/-/drop",
           f"/{name}/-/query", f"/{name}/reports", f"/{name}/reports/{rid}", "/-/create-token"]
    body = {"row": {"report_url": "x", "first_seen": "x", "status": "x"}, "rows": [{"id": rid}],
            "update": {"agency": "x"}, "table": "x", "columns": [{"name": "a"}], "confirm": True}
    for path in api:
        yield "POST", base + path, body


@pytest.mark.parametrize("public", [False, True])
def test_every_write_path_is_refused(db, public):
    import json
    before = Store(db, readonly=True)
    digest, counts = before.content_hash(), before.counts()
    rid = before.reports()[0]["id"]
    before.close()
    with serving(db, *(["--public"] if public else [])) as base:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        _open(opener, base + "/")  # a csrftoken cookie, as a browser would have
        token = next((c.value for c in jar if c.name == "ds_csrftoken"), "")
        for method, url, payload in _write_attempts(base, db.stem, rid):
            if method == "GET":
                status, text = _open(opener, url)
            else:
                for data, ctype in ((json.dumps(payload).encode(), "application/json"),
                                    (urllib.parse.urlencode({**{k: json.dumps(v) if not isinstance(v, str) else v
                                                                 for k, v in payload.items()},
                                                             "csrftoken": token}).encode(),
                                     "application/x-www-form-urlencoded")):
                    status, text = _open(opener, url, data, {"content-type": ctype})
                    assert status >= 400 or "error" in text.lower(), (url, status, text[:200])
                continue
            assert status >= 400 or '"ok": false' in text or "error" in text.lower(), (url, status, text[:200])
    after = Store(db, readonly=True)
    assert after.content_hash() == digest and after.counts() == counts
    after.close()


def test_public_mode_hides_the_journals_and_sql_but_keeps_the_pages(db):
    with Store(db, readonly=True) as s:
        rid = s.reports()[0]["id"]
    opener = urllib.request.build_opener()
    with serving(db, "--public") as base:
        status, home = _open(opener, base + "/")
        assert status == 200 and "应公开" in home  # the matrix is the landing page
        status, page = _open(opener, f"{base}/-/nianbao/report/{rid}")
        assert status == 200 and "blob-link" not in page and "form class=\"triage\"" not in page
        status, _ = _open(opener, base + "/-/nianbao/matrix.xlsx")
        assert status == 200
        status, _ = _open(opener, base + "/-/nianbao/matrix.docx?year=2024")
        assert status == 200
        for table in PRIVATE:
            status, text = _open(opener, f"{base}/{db.stem}/{table}.json")
            assert status in (403, 404), (table, status)
            assert "chief@example.org" not in text
        status, listing = _open(opener, f"{base}/{db.stem}")
        assert status == 200
        for table in PRIVATE:
            assert f'href="/{db.stem}/{table}"' not in listing, table
        assert "findings" in listing and "reports" in listing
        status, _ = _open(opener, f"{base}/{db.stem}.json?sql=select+1")
        assert status == 403
        status, _ = _open(opener, f"{base}/{db.stem}/findings.json?_where=1%3D1")
        assert status in (400, 403)
        status, _ = _open(opener, f"{base}/{db.stem}/balance_failures.json")  # canned queries stay
        assert status == 200
        status, text = _open(opener, base + "/-/nianbao/triage", b"finding=1&action=confirmed",
                             {"content-type": "application/x-www-form-urlencoded"})
        assert status == 403
    # not public: the journals are there for the operator
    with serving(db) as base:
        status, text = _open(opener, f"{base}/{db.stem}/outbox.json")
        assert status == 200 and "chief@example.org" in text


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7", "::"])
def test_a_non_loopback_host_needs_public_mode(db, host):
    out = subprocess.run([NIANBAO, "serve", "--db", str(db), "--host", host, "--port", "0", "--no-open"],
                         capture_output=True, text=True, timeout=60, cwd=db.parent)
    assert out.returncode == 2
    assert "serve.public" in out.stderr and host in out.stderr


def test_loopback_names_are_accepted_without_public_mode():
    from crawler.cli.store import _is_loopback
    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("localhost")
    assert _is_loopback("127.1.2.3")
    assert not _is_loopback("0.0.0.0") and not _is_loopback("10.0.0.1") and not _is_loopback("example.org")


def test_config_serve_public_is_read(db, tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("serve:\n  public: true\n  host: 0.0.0.0\n", encoding="utf-8")
    # public from config: a non-loopback host is accepted (bind to port 0 then stop at once)
    proc = subprocess.Popen([NIANBAO, "--config", str(cfg), "serve", "--db", str(db), "--port", "0", "--no-open"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert re.search(r"serving .* \(public mode\)", line), line
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
