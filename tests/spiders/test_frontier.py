"""A crawl shared by two machines through Redis (issue 14 item 4; crawler/frontier.py).

Two ``nianbao crawl --frontier`` processes over the conformance zoo, with ``nianbao ingest-worker`` storing
their items, must give the same database as one ``nianbao crawl`` (documents, reports, cells compared by
content, not ids); the zoo's request log must show no URL fetched twice and each host's delay held across
both nodes.  The Redis server is Debian's redis-server, started here on a free loopback port with no
persistence; without it (``make install`` installs it) the tests are skipped and say why.
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlite_utils
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from crawl_then_parse import run_crawl  # noqa: E402
from crawler.config import config_from_dict  # noqa: E402
from crawler.demo.zoo import Zoo  # noqa: E402
from crawler.frontier import JsonRequestCodec, decode_item, encode_item  # noqa: E402
from storage.db import Store  # noqa: E402
from storage.models import Document  # noqa: E402

NIANBAO = str(Path(sys.executable).with_name("nianbao"))
REDIS_SERVER = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists()
                                                else None)
needs_redis = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed (Debian package "
                                                              "redis-server; `make install` installs it)")
#: the zoo's sites minus the WAF (needs Chromium) and the traps (their own test); tree has Crawl-delay: 1
SITES = ("trs", "hanweb", "gkmlpt", "gkmlpt_tree", "jpaas", "xxgk", "vsb", "ucap", "numeric", "tree")
#: every host has a delay (crawl.download_delay), one site its own (sites[].download_delay), one a robots.txt
#: Crawl-delay: three sources of politeness, each to be held across the two nodes
DELAY, SITE_DELAY, CRAWL_DELAY = 0.6, {"hanweb": 0.9}, {"tree": 1.0}
#: a 15 s timeout: nothing here answers slowly unless the machine is loaded; with 5 s, on the loaded machine,
#: the one-process reference once stored 4 gkmlpt reports fewer than the two nodes (cause not kept)
CRAWL = {"download_delay": DELAY, "autothrottle": False, "timeout": 15, "retries": 0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (Debian package redis-server; `make install` installs it)")
    import redis

    tmp = tmp_path_factory.mktemp("redis")
    port = free_port()
    proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp), "--logfile", str(tmp / "redis.log"),
                             "--protected-mode", "yes"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/3"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail(f"redis-server did not start: {(tmp / 'redis.log').read_text()[-2000:]}")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def site_configs(zoo: Zoo) -> list[dict]:
    out = zoo.site_configs(list(SITES))
    for s in out:
        if s["name"] in SITE_DELAY:
            s["download_delay"] = SITE_DELAY[s["name"]]
    return out


_PICTURES = (".png", ".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".bmp")


def _content(db: Path, sites=None) -> dict[str, object]:
    """What a crawl stored, without ids and times: documents by URL, reports by page, cells by report page
    (of ``sites`` only, when given)."""
    d = sqlite_utils.Database(db)
    keep = (lambda site: True) if sites is None else (lambda site: site in sites)  # noqa: E731
    doc_site = {r["id"]: r["site"] for r in d["documents"].rows}
    sha = {r["id"]: r["sha256"] for r in d["document_versions"].rows}
    docs = {r["url"]: (r["site"], r["report_url"], r["link_title"], r["listing_date"], r["page_date"],
                       sha.get(r["latest_version_id"])) for r in d["documents"].rows if keep(r["site"])}
    skip = {"id", "version_id", "parsed_at", "created_at", "updated_at", "checked_at", "agency_id", "first_seen",
            "last_seen", "document_id", "report_id"}
    reports, by_id = {}, {}
    parts: dict[str, set[str]] = {}
    for r in d["documents"].rows:
        parts.setdefault(r["report_url"], set()).add(r["url"])
    for r in d["reports"].rows:
        if keep(r["site"]):
            by_id[r["id"]] = r["report_url"]
            row = {k: v for k, v in r.items() if k not in skip and not k.endswith("_at")}
            # a 图片版 page read with its pictures is stored under the part stored last (storage.reports.
            # richer_parse_wins), and which picture arrives last depends on the nodes' order: the
            # reading must be the same, its source one of the report's own pictures
            src = row.get("source_url") or ""
            if src.lower().endswith(_PICTURES) and src in parts.get(r["report_url"], ()):
                row["source_url"] = "one of the report's pictures"
            reports[r["report_url"]] = row
    cells = Counter()
    for c in d["cells"].rows:
        if c["report_id"] in by_id:
            cells[(by_id[c["report_id"]],) + tuple((k, v) for k, v in sorted(c.items()) if k not in skip)] += 1
    versions = Counter((r["sha256"], r["parse_status"]) for r in d["document_versions"].rows
                       if keep(doc_site.get(r["document_id"])))
    return {"documents": docs, "reports": reports, "cells": cells, "versions": versions}


def _same_content(one: dict, two: dict) -> None:
    for part in ("documents", "reports", "cells", "versions"):
        a, b = one[part], two[part]
        if part in ("documents", "reports"):
            assert set(a) == set(b), (part, sorted(set(a) ^ set(b))[:10])
            diff = [k for k in a if a[k] != b[k]]
            assert not diff, (part, diff[:3], [(a[k], b[k]) for k in diff[:1]])
        else:
            assert a == b, (part, list((a - b).items())[:3], list((b - a).items())[:3])


@pytest.fixture(scope="module")
def served_zoo():
    zoo = Zoo()
    with zoo.serve():
        yield zoo


@pytest.fixture(scope="module")
def crawls(tmp_path_factory, redis_url, served_zoo):
    zoo = served_zoo
    tmp = tmp_path_factory.mktemp("frontier")
    # one process, the reference
    one = tmp / "one.db"
    store = Store(one)
    zoo.clear_logs()
    single = run_crawl(config_from_dict({"crawl": CRAWL, "sites": site_configs(zoo)}), store, progress=False,
                       timeout=300)
    store.close()
    log_one = {n: list(s.requests) for n, s in zoo.sites.items()}
    # two crawl nodes and the ingest worker
    two = tmp / "two.db"
    cfg = tmp / "config.yaml"
    cfg.write_text(yaml.safe_dump({"database": str(two), "crawl": CRAWL, "sites": site_configs(zoo),
                                   "frontier": {"job": "zoo"}}, allow_unicode=True), encoding="utf-8")
    zoo.clear_logs()
    worker = subprocess.Popen([NIANBAO, "--config", str(cfg), "ingest-worker", "--from", redis_url,
                               "--until-finished", "--no-progress"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    nodes = [subprocess.Popen([NIANBAO, "--config", str(cfg), "crawl", "--frontier", redis_url, "--no-progress"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=400)[0] for p in nodes]
    worker_out = worker.communicate(timeout=400)[0]
    log_two = {n: list(s.requests) for n, s in zoo.sites.items()}
    yield {"zoo": zoo, "single": single, "one": one, "two": two, "log_one": log_one, "log_two": log_two,
           "nodes": [(p.returncode, out) for p, out in zip(nodes, outs)], "worker": (worker.returncode, worker_out)}


@needs_redis
def test_both_nodes_and_the_worker_succeed(crawls):
    for code, out in crawls["nodes"]:
        assert code == 0, out[-3000:]
        assert "Traceback" not in out, out[-3000:]
    code, out = crawls["worker"]
    assert code == 0, out[-3000:]
    assert "Traceback" not in out
    # both nodes did real work (not one crawling while the other idled): pages fetched by each
    fetched = [sum(int(line.split(": ")[1].split()[0]) for line in out.splitlines() if line.endswith("fetched by this node"))
               for _c, out in crawls["nodes"]]
    assert all(n > 0 for n in fetched), fetched


@needs_redis
def test_two_nodes_give_the_same_database_as_one_process(crawls):
    one, two = _content(crawls["one"]), _content(crawls["two"])
    assert len(one["documents"]) >= 40 and len(one["reports"]) >= 30
    _same_content(one, two)


@needs_redis
def test_no_url_is_fetched_twice_by_the_two_nodes(crawls):
    for name in SITES:
        counts = Counter((r.method, r.path) for r in crawls["log_two"][name])
        assert [k for k, n in counts.items() if n > 1] == [], name
        # and the same requests as the single process made (robots.txt once per host included)
        assert counts == Counter((r.method, r.path) for r in crawls["log_one"][name]), name


def _gaps(records) -> list[float]:
    times = sorted(r.at for r in records if r.path != "/robots.txt")
    return [b - a for a, b in zip(times, times[1:])]


@needs_redis
def test_per_host_delay_is_held_across_both_nodes(crawls):
    d = sqlite_utils.Database(crawls["two"])
    run = next(r for r in d["runs"].rows_where("kind = 'crawl'"))
    nodes = json.loads(run["stats"])["frontier"]["nodes"]
    assert len(nodes) == 2
    for name in SITES:
        delay = CRAWL_DELAY.get(name) or SITE_DELAY.get(name) or DELAY
        gaps = _gaps(crawls["log_two"][name])
        assert len(gaps) >= 3, name
        # sends are claimed on the Redis server's clock when a node is ready to send, spaced by the delay; the
        # arrival gaps measured here add the loopback's and this loaded machine's scheduling jitter
        short = [g for g in gaps if g < delay * 0.95]
        by = {n: c.get(name, 0) for n, c in nodes.items()}
        print(f"\n{name}: delay {delay} s, {len(gaps)} gaps between requests, min {min(gaps):.3f} s, {len(short)} "
              f"below 0.95 × delay; fetched per node {sorted(by.values())}")
        assert min(gaps) >= delay * 0.8 and len(short) <= max(1, len(gaps) // 10), (name, [round(g, 3) for g in gaps])
    # hosts fetched by both nodes: their delay was shared, not each node's own.  How many hosts both nodes
    # reach depends on the processes' start-up order (one run of the full suite had 1 of 10); one is enough
    # for the claim, none would mean the gaps above never tested sharing
    shared = [name for name in SITES if all(n.get(name, 0) > 0 for n in nodes.values())]
    assert len(shared) >= 1, nodes


@needs_redis
def test_the_crawl_run_row_sums_both_nodes(crawls):
    d = sqlite_utils.Database(crawls["two"])
    runs = list(d["runs"].rows_where("kind = 'crawl'"))
    assert len(runs) == 1 and runs[0]["status"] == crawls["single"].status

    stats = json.loads(runs[0]["stats"])
    assert stats["reports"] == crawls["single"].reports
    assert stats["attachments"] == crawls["single"].attachments
    assert stats["documents_new"] == crawls["single"].documents_new
    fetched = {r["url"] for r in d["fetches"].rows}
    assert fetched == {r["url"] for r in sqlite_utils.Database(crawls["one"])["fetches"].rows}


# -- errors and bounds --------------------------------------------------------------------------------------
@pytest.mark.parametrize("url, says", [
    ("http://127.0.0.1:6379/0", "not a Redis URL"),
    ("redis://127.0.0.1:6379/zero", "is not a number"),
    ("redis:///0", "no host"),
])
def test_a_bad_frontier_url_is_refused_naming_it(tmp_path, url, says):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"sites": [{"name": "a", "start_url": "http://127.0.0.1:9/"}]}), encoding="utf-8")
    for args in (["crawl", "--frontier", url], ["ingest-worker", "--from", url, "--db", str(tmp_path / "x.db")]):
        out = subprocess.run([NIANBAO, "--config", str(cfg), *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, out.stdout + out.stderr
        assert url in out.stderr and says in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
    assert not (tmp_path / "x.db").exists()


def test_an_unreachable_server_is_an_error_naming_the_url(tmp_path):
    url = f"redis://:secret@127.0.0.1:{free_port()}/0"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"sites": [{"name": "a", "start_url": "http://127.0.0.1:9/"}]}), encoding="utf-8")
    for args in (["crawl", "--frontier", url], ["ingest-worker", "--from", url, "--db", str(tmp_path / "x.db")]):
        out = subprocess.run([NIANBAO, "--config", str(cfg), *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, out.stdout + out.stderr
        assert "cannot reach the Redis server" in out.stderr and url.replace(":secret@", ":***@") in out.stderr
        assert "secret" not in out.stderr and "Traceback" not in out.stderr


def test_frontier_config_keys_are_validated_naming_the_key(tmp_path):
    from crawler.config import ConfigError, load_config

    for bad, key in (({"job": "a b"}, "frontier.job"), ({"max_item_mb": 600}, "frontier.max_item_mb"),
                     ({"node_timeout": 1}, "frontier.node_timeout"), ({"nodes": 2}, "frontier.nodes")):
        cfg = tmp_path / "config.yaml"
        cfg.write_text(yaml.safe_dump({"frontier": bad}), encoding="utf-8")
        with pytest.raises(ConfigError) as e:
            load_config(cfg)
        assert key in str(e.value)


def test_items_and_requests_cross_redis_without_pickle():
    doc = Document(url="http://a.gov.cn/t1.html", content=b"\x00\xff<html>\xe5\xb9\xb4\xe6\x8a\xa5", status=200,
                   site="a", link_title="2024年报", report_url="http://a.gov.cn/t1.html")
    head, back = decode_item(encode_item(doc, generation=3, node="n1"))
    assert head["generation"] == 3 and back.content == doc.content and back.link_title == doc.link_title
    req = {"url": "http://a.gov.cn/", "headers": {b"Cookie": [b"x=1"]}, "body": b"a=1", "meta": {"trail": [["u", "v"]]}}
    assert JsonRequestCodec.loads(JsonRequestCodec.dumps(req)) == req
    json.loads(JsonRequestCodec.dumps(req))  # JSON, never a pickle
    with pytest.raises(ValueError):
        decode_item(b"\x80\x04\x95" + b"pickle")
    with pytest.raises(ValueError):  # a header that does not match its bytes
        decode_item(encode_item(doc, generation=1, node="n")[:-3])


@needs_redis
def test_items_above_the_cap_are_recorded_and_the_queue_is_bounded(tmp_path, redis_url):
    """frontier.max_item_mb: a larger document is a too_large fetch record, not an item; frontier.max_queued_items:
    a node waits for the worker (started late here) instead of filling Redis; every key left has a TTL."""
    import redis

    zoo = Zoo()
    job = "bounds"
    client = redis.Redis.from_url(redis_url)
    with zoo.serve():
        cfg = tmp_path / "config.yaml"
        cfg.write_text(yaml.safe_dump({
            "database": str(tmp_path / "b.db"), "crawl": {**CRAWL, "download_delay": 0},
            "sites": zoo.site_configs(["hanweb"]),
            "frontier": {"job": job, "max_item_mb": 0.015, "max_queued_items": 2}}, allow_unicode=True),
            encoding="utf-8")
        node = subprocess.Popen([NIANBAO, "--config", str(cfg), "crawl", "--frontier", redis_url, "--no-progress"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        most, full_since, started = 0, None, time.monotonic()
        # no worker yet: the node fills the queue to its bound, then waits there (watched for 3 s)
        while time.monotonic() - started < 180 and node.poll() is None:
            n = client.llen(f"{job}:items")
            most = max(most, n)
            full_since = (full_since or time.monotonic()) if n >= 2 else None
            if full_since and time.monotonic() - full_since > 3:
                break
            time.sleep(0.05)
        worker = subprocess.run([NIANBAO, "--config", str(cfg), "ingest-worker", "--from", redis_url,
                                 "--until-finished", "--no-progress"], capture_output=True, text=True, timeout=300)
        out = node.communicate(timeout=300)[0]
    assert node.returncode == 0, out[-3000:]
    assert worker.returncode == 0, worker.stdout[-3000:] + worker.stderr[-3000:]
    assert most == 2, (most, out[-3000:])  # filled up to the bound, never past it
    d = sqlite_utils.Database(tmp_path / "b.db")
    large = list(d["fetches"].rows_where("fetch_status = 'too_large'"))
    assert large and all("frontier.max_item_mb" in r["error"] for r in large)
    stored = {r["sha256"]: r["size"] for r in d["document_versions"].rows}
    assert stored and max(stored.values()) <= 0.015 * 1024 * 1024
    run = json.loads(next(d["runs"].rows_where("kind = 'crawl'"))["stats"])
    assert run["scrapy"]["nianbao/frontier/backpressure_waits"] > 0
    assert run["scrapy"]["nianbao/frontier/items_too_large"] == len(large)
    keys = client.keys(f"{job}:*")
    assert keys and all(client.ttl(k) > 0 for k in keys), {k: client.ttl(k) for k in keys}
    assert not client.exists(f"{job}:requests", f"{job}:dupefilter", f"{job}:worker")


@needs_redis
def test_a_crawl_whose_nodes_are_killed_is_ended_by_the_worker(tmp_path, redis_url):
    """Every node SIGKILLed midway (no goodbye): the worker notices the silent heartbeats after
    frontier.node_timeout, records the crawl run as failed or partial, keeps what was stored, and exits."""
    import os
    import signal

    import redis

    zoo = Zoo()
    job = "killed"
    client = redis.Redis.from_url(redis_url)
    with zoo.serve():
        cfg = tmp_path / "config.yaml"
        cfg.write_text(yaml.safe_dump({
            "database": str(tmp_path / "k.db"), "crawl": {**CRAWL, "download_delay": 1.0},
            "sites": zoo.site_configs(["tree"]), "frontier": {"job": job, "node_timeout": 10}}, allow_unicode=True),
            encoding="utf-8")
        worker = subprocess.Popen([NIANBAO, "--config", str(cfg), "ingest-worker", "--from", redis_url,
                                   "--until-finished", "--no-progress"], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        node = subprocess.Popen([NIANBAO, "--config", str(cfg), "crawl", "--frontier", redis_url, "--no-progress"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        started = time.monotonic()
        while client.llen(f"{job}:items") == 0 and not client.exists(f"{job}:g1:budget:tree"):
            assert time.monotonic() - started < 120, "the node never started crawling"
            time.sleep(0.1)
        time.sleep(2)
        os.killpg(node.pid, signal.SIGKILL)  # the node and its crawl process, no chance to say goodbye
        node.wait()
        out = worker.communicate(timeout=120)[0]
    assert worker.returncode == 1, out[-3000:]  # the crawl did not finish: a problem, reported
    assert "stopped beating" in out, out[-3000:]
    run = next(sqlite_utils.Database(tmp_path / "k.db")["runs"].rows_where("kind = 'crawl'"))
    assert run["status"] in ("failed", "partial") and "stopped beating" in run["error"], run
    assert client.hget(f"{job}:state", "status") == b"abandoned"


# -- leases: a request taken by a node that dies is fetched by another ------------------------------------
def _queue_request(client, job: str, url: str, priority: int = 0) -> bytes:
    data = JsonRequestCodec.dumps({"url": url, "method": "GET", "meta": {"site": "a", "role": "report"}})
    client.zadd(f"{job}:requests", {data: -priority})
    return data


@needs_redis
def test_a_lease_expires_only_when_not_extended_and_a_poison_request_is_given_up(redis_url):
    """Frontier.take leases a request (Redis moves it from the queue to the leases in one script); a lease its
    node extends (heartbeat) stays; one left alone expires and goes back into the queue; a request whose
    lease expired max_lease_tries times goes to the failed list instead of looping; ``done`` drops a lease,
    ``hand_back`` puts it back without counting a try."""
    import redis

    from crawler.frontier import Frontier, FrontierSettings

    client = redis.Redis.from_url(redis_url)
    job = "lease"
    client.delete(*(client.keys(f"{job}:*") or [b"-"]))
    fs = FrontierSettings(url=redis_url, job=job, node_timeout_s=1, max_lease_tries=2)
    a, b = Frontier(fs), Frontier(fs)
    first = _queue_request(client, job, "http://a.gov.cn/1.html", priority=5)
    second = _queue_request(client, job, "http://a.gov.cn/2.html")
    assert a.take() == first and client.zcard(f"{job}:requests") == 1
    assert list(a.leases().values()) == [a.node]
    time.sleep(0.6)
    a.extend_leases()
    time.sleep(0.6)  # 1.2 s after the take, 0.6 s after the extension
    assert b.requeue_expired() == (0, []), "an extended lease was taken back"
    time.sleep(0.6)  # no extension for 1.2 s: node a counts as gone
    assert b.requeue_expired() == (1, [])
    assert a.leases() == {} and client.zcard(f"{job}:requests") == 2
    assert b.take() == first  # its priority kept
    b.done(b.last_lease)
    assert b.leases() == {} and not client.exists(f"{job}:leases:tries")  # done: its try count forgotten
    assert b.take() == second
    assert b.hand_back() == 1 and client.zcard(f"{job}:requests") == 1 and b.leases() == {}
    # a request that kills every node that takes it: taken, lost, taken again, lost, then given up
    for attempt in range(2):
        assert a.take() == second
        a.held.clear()  # the node died: nobody extends its lease
        time.sleep(1.1)
        back, failed = b.requeue_expired()
        assert (back, failed) == ((1, []) if attempt == 0 else (0, [second])), attempt
    assert client.zcard(f"{job}:requests") == 0 and client.lrange(f"{job}:requests:failed", 0, -1) == [second]
    assert a.take() is None


def _slow(zoo: Zoo, names, seconds: float):
    """Every answer of these sites but robots.txt comes ``seconds`` late (the server's own fault behaviour),
    so that a node killed midway holds requests in flight and requests overlap in the request log."""
    import dataclasses

    for name in names:
        site = zoo.sites[name]
        original = site.respond

        def respond(method, target, headers, body, base_url, _original=original):
            res = _original(method, target, headers, body, base_url)
            return res if target.startswith("/robots.txt") else dataclasses.replace(res, delay=seconds)

        site.respond = respond

    def undo():
        for name in names:
            zoo.sites[name].__dict__.pop("respond", None)
    return undo


#: the slow crawls: the zoo sites with the most requests, every answer late, 2 requests per host at once
SLOW_SITES, PER_HOST = ("trs", "xxgk", "vsb"), 2


def _slow_crawl(zoo: Zoo, tmp: Path, redis_url: str, job: str, *, answer_s: float, delay: float,
                kill_after: float | None = None, node_settings: dict | None = None) -> dict:
    """Two crawl nodes and the worker over SLOW_SITES, each answer ``answer_s`` late.  With ``kill_after``
    (a fraction of the one-process crawl's requests), node A is SIGKILLed with its crawl process, once that
    many requests were made, while it holds at least two leases; node B goes on alone.  ``node_settings``:
    the nodes are the crawl processes ``nianbao crawl --frontier`` runs, started directly with these Scrapy
    settings over the production ones (``--settings-json``)."""
    import os
    import signal

    import redis

    client = redis.Redis.from_url(redis_url)
    cfg = tmp / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        "database": str(tmp / "k.db"),
        # a 10 s timeout: on a loaded machine a 1 s answer can take 5 s (a dead node's slots free after 20 s)
        "crawl": {**CRAWL, "download_delay": delay, "concurrent_per_domain": PER_HOST, "timeout": 10},
        "sites": [s for s in site_configs(zoo) if s["name"] in SLOW_SITES],
        "frontier": {"job": job, "node_timeout": 10}}, allow_unicode=True), encoding="utf-8")
    undo = _slow(zoo, SLOW_SITES, answer_s)
    zoo.clear_logs()
    victim, taken, killed_at = None, [], None
    try:
        worker = subprocess.Popen([NIANBAO, "--config", str(cfg), "ingest-worker", "--from", redis_url,
                                   "--until-finished", "--no-progress"], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        if node_settings is None:
            commands = [[NIANBAO, "--config", str(cfg), "crawl", "--frontier", redis_url, "--no-progress"]] * 2
        else:
            from crawler.config import load_config
            from crawler.crawl import child_command

            config = load_config(cfg)
            (tmp / "settings.json").write_text(json.dumps(node_settings), encoding="utf-8")
            commands = []
            for k in range(2):
                (tmp / f"node{k}").mkdir()
                commands.append(child_command(config, tmp / f"node{k}", list(config.sites),
                                              ["--frontier", redis_url, "--settings-json", str(tmp / "settings.json")],
                                              progress=False, polite=True)[0])
        nodes = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  start_new_session=True) for cmd in commands]
        started = time.monotonic()
        # every site past its robots.txt (a dead node's robots.txt claim would hold the others 120 s) and
        # kill_after of the requests made, then kill a node that holds leases
        while kill_after is not None and victim is None:
            assert time.monotonic() - started < 240, "the nodes never got going"
            time.sleep(0.2)
            made = {n: [r for r in zoo.sites[n].requests if r.path != "/robots.txt"] for n in SLOW_SITES}
            if not all(made.values()) or sum(map(len, made.values())) < kill_after:
                continue
            held: dict[str, list[bytes]] = {}
            for v in client.hgetall(f"{job}:leases:data").values():
                _score, node, data = v.split(b"\n", 2)
                held.setdefault(node.decode(), []).append(data)
            for node, datas in held.items():
                pgid = os.getpgid(int(node.split(":")[1]))
                proc = next((p for p in nodes if p.pid == pgid), None)
                if proc is not None and len(datas) >= 2:
                    os.killpg(pgid, signal.SIGKILL)  # the node and its crawl process, no goodbye
                    victim, taken = proc, [JsonRequestCodec.loads(d)["url"] for d in datas]
                    killed_at = time.time()
                    break
        if victim is not None:
            victim.wait()
        outs = [(p.communicate(timeout=300)[0], p.returncode)[::-1] for p in nodes if p is not victim]
        worker_out = worker.communicate(timeout=120)[0]
    finally:
        undo()
    run = next(sqlite_utils.Database(tmp / "k.db")["runs"].rows_where("kind = 'crawl'"))
    return {"db": tmp / "k.db", "taken": taken, "killed_at": killed_at, "nodes": outs,
            "worker": (worker.returncode, worker_out), "stats": json.loads(run["stats"]),
            "log": {n: list(zoo.sites[n].requests) for n in SLOW_SITES}}


@pytest.fixture(scope="module")
def killed_node(tmp_path_factory, redis_url, served_zoo, crawls):
    """Answers 1 s late; node A killed once a third of the requests were made.  The reference is the
    one-process database of ``crawls``."""
    expected = sum(1 for n in SLOW_SITES for r in crawls["log_one"][n] if r.path != "/robots.txt")
    return _slow_crawl(served_zoo, tmp_path_factory.mktemp("killed-node"), redis_url, "killnode", answer_s=1.0,
                       delay=0.3, kill_after=expected / 3)


#: the capped crawl: answers this late, sends 0.1 s apart: without the shared cap both nodes' 2 each overlap
ANSWER_S = 1.5


@pytest.fixture(scope="module")
def capped(tmp_path_factory, redis_url, served_zoo):
    """Each node holds at most 2 requests at once (CONCURRENT_REQUESTS, production 16): a node does not take
    every request it discovers before the other can (three sites give no more than that), so both nodes
    work on one host at once, as they do when a national crawl's queue is deep."""
    return _slow_crawl(served_zoo, tmp_path_factory.mktemp("capped"), redis_url, "capped", answer_s=ANSWER_S,
                       delay=0.1, node_settings={"CONCURRENT_REQUESTS": PER_HOST})


@needs_redis
def test_the_requests_a_killed_node_had_taken_are_fetched_by_the_other(killed_node, crawls):
    assert len(killed_node["nodes"]) == 1  # the survivor
    for code, out in (*killed_node["nodes"], killed_node["worker"]):
        assert code == 0 and "Traceback" not in out, out[-3000:]
    # what the killed node held was asked for again after the kill
    from urllib.parse import urlsplit

    asked_after = {r.path for log in killed_node["log"].values() for r in log if r.at > killed_node["killed_at"]}
    target = lambda u: urlsplit(u).path + (f"?{urlsplit(u).query}" if urlsplit(u).query else "")  # noqa: E731
    lost = [u for u in killed_node["taken"] if target(u) not in asked_after]
    assert killed_node["taken"] and not lost, lost
    # and the database is the one a single process stores for these sites
    _same_content(_content(crawls["one"], SLOW_SITES), _content(killed_node["db"], SLOW_SITES))
    assert killed_node["stats"]["scrapy"]["nianbao/frontier/leases_requeued"] >= len(killed_node["taken"])


@needs_redis
def test_requests_in_flight_per_host_are_capped_across_both_nodes(capped):
    """Every answer takes ANSWER_S: requests i < j were both in flight at j's arrival when j came less than
    ANSWER_S after i.  So PER_HOST + 1 arrivals within ANSWER_S are PER_HOST + 1 requests at once."""
    for code, out in (*capped["nodes"], capped["worker"]):
        assert code == 0 and "Traceback" not in out, out[-3000:]
    two_at_once = {}
    for name, log in capped["log"].items():
        t = sorted(r.at for r in log if r.path != "/robots.txt")
        over = [(round(t[k], 3), round(t[k + PER_HOST] - t[k], 3)) for k in range(len(t) - PER_HOST)
                if t[k + PER_HOST] - t[k] < ANSWER_S * 0.98]
        assert not over, (name, over[:5])
        two_at_once[name] = any(t[k + 1] - t[k] < ANSWER_S * 0.98 for k in range(len(t) - 1))
    assert any(two_at_once.values()), two_at_once  # the cap was reached: the assertion above is not idle
    assert capped["stats"]["scrapy"].get("nianbao/frontier/slot_waits", 0) > 0
    nodes = capped["stats"]["frontier"]["nodes"]
    assert len(nodes) == 2 and all(sum(n.values()) > 0 for n in nodes.values()), nodes  # both nodes crawled


def _run_now(coro):
    """Run a coroutine that must not wait (nothing to sleep for): its result, else the test fails."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    pytest.fail("the coroutine waited although the host had a free slot")


@needs_redis
def test_a_browser_site_request_holds_the_hosts_shared_slot(redis_url):
    """fetch: browser requests never reach the download handler: the middleware before the browser's takes the
    host's shared slot (another node then finds the host full) and frees it when the answer comes back."""
    import redis
    from scrapy.http import Request, Response
    from scrapy.utils.test import get_crawler

    from crawler.frontier import Frontier, FrontierSettings, Keys
    from crawler.frontier_node import SharedBrowserPolitenessMiddleware
    from spiders.portal import host_key

    client = redis.Redis.from_url(redis_url)
    fs = FrontierSettings(url=redis_url, job="browser")
    crawler = get_crawler(settings_dict={
        "NIANBAO_FRONTIER": {"settings": fs.__dict__, "delays": {}, "default_delay": 0.0, "concurrency": 1},
        "NIANBAO_SITES": [{"name": "waf", "fetch": "browser"}, {"name": "plain"}]})
    mw = SharedBrowserPolitenessMiddleware.from_crawler(crawler)
    url = "http://127.0.0.1:9/index.html"
    slots = Keys("browser").slots(host_key(url))
    client.delete(slots)
    plain = Request(url, meta={"site": "plain"})
    assert _run_now(mw.process_request(plain)) is None and client.zcard(slots) == 0  # the handler's job
    req = Request(url, meta={"site": "waf"})
    assert _run_now(mw.process_request(req)) is None
    assert client.zcard(slots) == 1
    assert Frontier(fs).claim(host_key(url), 0.0, 1)[2] == "slots"  # another node: the host is full
    assert mw.process_response(req, Response(url), None).url == url
    assert client.zcard(slots) == 0
    assert Frontier(fs).claim(host_key(url), 0.0, 1)[0] == 0


@needs_redis
def test_a_request_that_cannot_be_decoded_is_set_aside_not_popped_for_ever(redis_url, caplog):
    """Bytes in the shared queue that make no request (a node on scrapy-redis's default pickle serializer, a
    value cut short, JSON without a URL) go to the queue's failed list with the reason, their lease dropped;
    the pop goes on with the next entry.  Before, the pop raised with the request leased: the idle node
    handed the lease back and the next pop took the same entry again, for ever."""
    import base64
    import logging
    import pickle

    import redis
    from scrapy import Request, Spider
    from scrapy.utils.test import get_crawler

    from crawler.frontier import Frontier, FrontierSettings, Keys
    from crawler.frontier_node import LEASE_META, LeasedPriorityQueue, frontier_for

    client = redis.Redis.from_url(redis_url)
    job = "undecodable"
    client.delete(*(client.keys(f"{job}:*") or [b"-"]))
    keys = Keys(job)
    fs = FrontierSettings(url=redis_url, job=job)
    crawler = get_crawler(Spider, settings_dict={
        "NIANBAO_FRONTIER": {"settings": fs.__dict__, "delays": {}, "default_delay": 0.0, "concurrency": 0}})
    spider = Spider.from_crawler(crawler, name="undecodable")
    queue = LeasedPriorityQueue(client, spider, keys.requests, JsonRequestCodec)
    frontier = frontier_for(crawler)
    good = ["http://www.gangu.gov.cn/info/2381/644672.htm",
            "http://www.gd.gov.cn/gkmlpt/content/4/4688/post_4688997.html",
            "http://js.changchun.gov.cn/szf_3410/ndbg/202501/t20250127_3378533.html"]
    for k, url in enumerate(good):  # priorities 3, 2, 1: the corrupt entries sit between them
        queue.push(Request(url, meta={"site": "a", "role": "report"}, priority=3 - k))
    cut = JsonRequestCodec.dumps({"url": good[0] + "?cut", "method": "GET"})[:30]
    corrupt = [pickle.dumps({"url": "http://www.gdhf.gov.cn/gdhf/zwgk/gknb/content/post_1221498.html",
                             "method": "GET"}, protocol=-1), cut, b'{"method":"GET","meta":{"site":"a"}}']
    for k, data in enumerate(corrupt):
        client.zadd(keys.requests, {data: -(2.5 - k * 0.4)})  # 2.5, 2.1, 1.7: after the first good one
    popped = []
    with caplog.at_level(logging.WARNING, logger="crawler.frontier_node"):
        for _ in range(20):  # as a node does: pop; on an error its idle handler hands the lease back
            try:
                request = queue.pop()
            except Exception:
                frontier.hand_back()
                continue
            if request is None:
                break
            popped.append(request.url)
            frontier.done(request.meta[LEASE_META])
        else:
            pytest.fail(f"the pop never ran dry: {popped[:5]}…")
    assert popped == good  # each good request once, in priority order
    assert client.zcard(keys.requests) == 0 and Frontier.leases(frontier) == {} and not frontier.held
    failed = [json.loads(v) for v in client.lrange(keys.failed, 0, -1)]
    assert keys.failed == f"{keys.requests}:failed"
    assert sorted(base64.b64decode(f["data_b64"]) for f in failed) == sorted(corrupt)
    assert all(f["error"] for f in failed), failed
    warned = [r.getMessage() for r in caplog.records if "cannot be decoded" in r.getMessage()]
    assert len(warned) == 3 and all(f"queued in {keys.requests} " in m and keys.failed in m for m in warned)
    assert all(any(f["error"] in m for m in warned) for f in failed), (failed, warned)
    assert crawler.stats.get_value("nianbao/frontier/requests_undecodable") == 3


@needs_redis
def test_a_browser_site_fetched_over_http_takes_one_slot_and_one_delay(redis_url):
    """Without Playwright a fetch: browser site's requests go on to the download handler, after the browser
    politeness middleware took the host's slot and delay: the handler must not claim again (a second delay, and
    with concurrent_per_domain 1 a wait for its own slot until that expired)."""
    import redis
    from scrapy.http import Request, Response
    from scrapy.utils.test import get_crawler

    from crawler.frontier import FrontierSettings, Keys
    from crawler.frontier_node import SharedBrowserPolitenessMiddleware, SharedDelayDownloadHandler
    from spiders.portal import host_key

    client = redis.Redis.from_url(redis_url)
    fs = FrontierSettings(url=redis_url, job="browser-http")
    crawler = get_crawler(settings_dict={
        "NIANBAO_FRONTIER": {"settings": fs.__dict__, "delays": {}, "default_delay": 2.0, "concurrency": 1},
        "NIANBAO_SITES": [{"name": "waf", "fetch": "browser"}]})
    mw = SharedBrowserPolitenessMiddleware.from_crawler(crawler)
    handler = SharedDelayDownloadHandler(crawler)
    sent = []

    class Inner:  # Scrapy's HTTP handler, without the network
        async def download_request(self, request):
            sent.append(request.url)
            return Response(request.url, request=request)

    handler.inner = Inner()
    frontier = handler.politeness.frontier
    claims = []
    claim = frontier.claim
    frontier.claim = lambda *a, **kw: claims.append(a[0]) or claim(*a, **kw)
    url = "http://www.gangu.gov.cn/info/2381/644672.htm"
    host = host_key(url)
    keys = Keys("browser-http")
    client.delete(keys.slots(host), keys.next_allowed(host))
    req = Request(url, meta={"site": "waf"})
    assert _run_now(mw.process_request(req)) is None
    response = _run_now(handler.download_request(req))  # waits neither the 2 s delay nor for its own slot
    assert sent == [url] and claims == [host], claims
    assert client.zcard(keys.slots(host)) == 1  # one slot, held by the middleware until the answer
    mw.process_response(req, response, None)
    assert client.zcard(keys.slots(host)) == 0
    assert not crawler.stats.get_value("nianbao/frontier/delay_wait_s")


@needs_redis
def test_a_browser_sites_slot_is_held_as_long_as_a_challenged_fetch_can_take(redis_url):
    """A challenged browser fetch is a fetch (up to the download timeout), the challenge page (up to the
    challenge timeout) and the fetch again: the host's shared slot must outlive all of it, or another node
    takes the host while this one still fetches.  It was held for the download timeout + 10 s (40 s here)."""
    import redis
    from scrapy.http import Request
    from scrapy.utils.test import get_crawler

    from crawler.frontier import FrontierSettings, Keys
    from crawler.frontier_node import BROWSER_SLOT_META, SharedBrowserPolitenessMiddleware
    from spiders.portal import host_key

    client = redis.Redis.from_url(redis_url)
    fs = FrontierSettings(url=redis_url, job="browser-hold")
    crawler = get_crawler(settings_dict={
        "DOWNLOAD_TIMEOUT": 30, "NIANBAO_BROWSER_CHALLENGE_TIMEOUT": 45,
        "NIANBAO_FRONTIER": {"settings": fs.__dict__, "delays": {}, "default_delay": 0.0, "concurrency": 1},
        "NIANBAO_SITES": [{"name": "waf", "fetch": "browser"}]})
    mw = SharedBrowserPolitenessMiddleware.from_crawler(crawler)
    url = "http://www.gzxr.gov.cn/zfxxgk/zfxxgknb/2024n/xzjd/202501/t20250118_86644547.html"
    slots = Keys("browser-hold").slots(host_key(url))
    client.delete(slots)
    req = Request(url, meta={"site": "waf"})
    assert _run_now(mw.process_request(req)) is None
    token = req.meta[BROWSER_SLOT_META][1]
    seconds, micros = client.time()
    hold = client.zscore(slots, token) - (seconds + micros / 1e6)
    assert hold >= 30 + 45 + 30, f"the slot is held {hold:.0f} s, a challenged fetch may take {30 + 45 + 30} s"
    mw.process_exception(req, RuntimeError("test"), None)
    assert client.zcard(slots) == 0


def test_the_browser_fetch_bound_covers_the_slowest_challenged_fetch(monkeypatch):
    """crawler.browser.fetch_bound_s is a real bound: a challenged fetch whose every step takes as long as its
    timeout lets it (the fetch answers 412 at the timeout, the challenge page loads just before its timeout and
    never passes, its page will not close, the second fetch answers at the timeout) ends within it."""
    import asyncio

    from scrapy.http import Request
    from scrapy.utils.test import get_crawler

    from crawler import browser

    t, c, close = 0.4, 0.8, 0.3
    monkeypatch.setattr(browser, "CLOSE_TIMEOUT", close)
    monkeypatch.setattr(browser, "LAUNCH_TIMEOUT", 0.0)  # the context below is not launched

    class Answer:
        def __init__(self, status):
            self.status, self.url, self.headers_array = status, "http://x/", [{"name": "Content-Type",
                                                                             "value": "text/html"}]

        async def body(self):
            return b"<html></html>"

        async def dispose(self):
            pass

    class Page:
        def on(self, event, handler):
            pass

        async def goto(self, url, wait_until, timeout):
            await asyncio.sleep(0.9 * timeout / 1000)  # loads, still the challenge

        async def close(self):
            await asyncio.sleep(3600)  # seen with a challenge page's favicon in flight

    class Fetcher:
        def __init__(self):
            self.n = 0

        async def fetch(self, url, timeout, **kw):
            self.n += 1
            await asyncio.sleep(timeout / 1000)
            return Answer(412 if self.n == 1 else 200)

    class Context:
        request = Fetcher()

        async def new_page(self):
            return Page()

    crawler = get_crawler(settings_dict={"DOWNLOAD_TIMEOUT": t, "NIANBAO_BROWSER_CHALLENGE_TIMEOUT": c})
    mw = browser.BrowserFetchMiddleware(crawler, {"waf"})
    context = Context()

    async def _context(site):
        return context

    mw._context = _context

    async def run():
        start = time.monotonic()
        response = await mw.process_request(Request("http://www.gangu.gov.cn/info/2381/644672.htm",
                                                    meta={"site": "waf"}))
        return response, time.monotonic() - start

    response, took = asyncio.run(run())
    assert response.status == 200 and context.request.n == 2
    bound = browser.fetch_bound_s(crawler.settings)
    assert took > 2 * t + c, took  # the slow path was taken: well over one download timeout
    assert took <= bound + 0.3, (took, bound)  # 0.3 s: the loop's wake-ups, late on a loaded machine
