"""A night's sites split across crawl processes (crawl.processes; crawler/crawl.py).

Two crawl processes over the conformance zoo must store the same documents as one process, make the same
requests (none twice: each host is crawled by one process), and write into the one SQLite file safely; a
child killed midway is named in the crawl run row, its sites marked, what it stored kept, and the other
process crawls its sites to the end.  The zoo's servers run on 127.0.0.1 (crawler/demo/zoo.py).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlite_utils
import yaml

from crawler.config import ConfigError, config_from_dict
from crawler.crawl import PROCESS_DIED, host_groups, plan_processes, resolve_processes, run_crawl
from crawler.demo.zoo import Zoo
from storage.db import Store

NIANBAO = str(Path(sys.executable).with_name("nianbao"))
#: the zoo minus the WAF site (needs Chromium) and the traps (their own tests); tree has a Crawl-delay of 1 s
SITES = ("trs", "hanweb", "gkmlpt", "gkmlpt_tree", "jpaas", "xxgk", "vsb", "ucap", "numeric", "tree")
CRAWL = {"download_delay": 0.3, "autothrottle": False, "timeout": 5, "retries": 0}


def _stored(db: Path) -> dict[str, object]:
    """What a crawl stored, without ids and times: documents by URL with their bytes' hash, fetches by URL."""
    d = sqlite_utils.Database(db)
    sha = {r["id"]: r["sha256"] for r in d["document_versions"].rows}
    docs = {r["url"]: (r["site"], r["report_url"], r["link_title"], r["listing_date"], r["page_date"],
                       sha.get(r["latest_version_id"])) for r in d["documents"].rows}
    fetches = Counter((r["url"], r["site"], r["fetch_status"], r["http_status"]) for r in d["fetches"].rows)
    return {"documents": docs, "fetches": fetches}


@pytest.fixture(scope="module")
def crawls(tmp_path_factory):
    zoo = Zoo()
    tmp = tmp_path_factory.mktemp("split")
    out = {"zoo": zoo}
    with zoo.serve():
        for n in (1, 2):
            db = tmp / f"p{n}.db"
            zoo.clear_logs()
            config = config_from_dict({"crawl": {**CRAWL, "processes": n}, "sites": zoo.site_configs(list(SITES))})
            with Store(db) as store:
                out[n] = run_crawl(config, store, progress=False, timeout=300)
            out[f"db{n}"] = db
            out[f"log{n}"] = {name: Counter((r.method, r.path) for r in zoo.sites[name].requests) for name in SITES}
    return out


def test_two_processes_ran_each_over_its_own_sites(crawls):
    one, two = crawls[1], crawls[2]
    assert len(one.processes) == 1 and len(two.processes) == 2, two.processes
    # the zoo's https-only site answers its https probe with a TLS error: partial in both, the same way
    assert one.status == two.status and one.error is None and two.error is None, (two.render(), two.error)
    assert {n: (s.status, s.failures) for n, s in one.sites.items()} == \
        {n: (s.status, s.failures) for n, s in two.sites.items()}
    parts = [set(p["sites"]) for p in two.processes]
    assert parts[0].isdisjoint(parts[1]) and parts[0] | parts[1] == set(SITES)
    assert all(p["requests"] > 0 and p["returncode"] == 0 for p in two.processes), two.processes
    run = next(sqlite_utils.Database(crawls["db2"])["runs"].rows_where("kind = 'crawl'"))
    stats = json.loads(run["stats"])
    assert run["status"] == one.status and len(stats["processes"]) == 2
    assert stats["reports"] == one.reports and stats["attachments"] == one.attachments


def test_two_processes_store_the_same_documents_as_one(crawls):
    a, b = _stored(crawls["db1"]), _stored(crawls["db2"])
    assert len(a["documents"]) >= 40
    assert set(a["documents"]) == set(b["documents"]), sorted(set(a["documents"]) ^ set(b["documents"]))[:10]
    assert {k: v for k, v in a["documents"].items() if v != b["documents"][k]} == {}
    assert a["fetches"] == b["fetches"], (list((a["fetches"] - b["fetches"]).items())[:3],
                                          list((b["fetches"] - a["fetches"]).items())[:3])
    zoo = crawls["zoo"]
    for name in SITES:  # everything the zoo publishes was stored
        assert zoo.expected_documents(name) <= set(b["documents"]), name
    with Store(crawls["db2"]) as store:
        assert store.integrity_check() == "ok"


def test_no_url_is_fetched_twice_by_the_two_processes(crawls):
    for name in SITES:
        log = crawls["log2"][name]
        assert [k for k, n in log.items() if n > 1] == [], name
        assert log == crawls["log1"][name], name  # the same requests as one process, robots.txt included


# -- the split ---------------------------------------------------------------------------------------------
def _cfg(sites, **crawl):
    return config_from_dict({"crawl": crawl, "sites": sites})


def test_sites_on_one_host_go_to_one_process():
    sites = [{"name": f"s{i}", "start_url": f"http://h{i % 7}.example.org/{i}/"} for i in range(40)]
    sites.append({"name": "files", "start_url": "http://other.example.org/",
                  "allowed_hosts": ["h3.example.org"]})  # shares a host with the h3 sites through allowed_hosts
    config = _cfg(sites)
    groups = host_groups(config.sites)
    assert len(groups) == 7
    parts = plan_processes(config.sites, 3)
    assert len(parts) == 3 and sorted(s.name for p in parts for s in p) == sorted(s.name for s in config.sites)
    for p in parts:
        hosts = {s.start_url.split("/")[2] for s in p}
        for q in parts:
            if q is not p:
                assert hosts.isdisjoint({s.start_url.split("/")[2] for s in q})
    assert any({"files", "s3"} <= {s.name for s in p} for p in parts)


def test_the_split_is_stable_and_balanced_by_last_nights_requests():
    sites = [{"name": f"s{i:02d}", "start_url": f"http://p{i}.example.org/"} for i in range(30)]
    config = _cfg(sites)
    first = [[s.name for s in p] for p in plan_processes(config.sites, 2)]
    shuffled = _cfg(list(reversed(sites)))
    again = [[s.name for s in p] for p in plan_processes(shuffled.sites, 2)]
    assert sorted(map(sorted, first)) == sorted(map(sorted, again))  # the config's order does not matter
    assert [len(p) for p in first] == [15, 15]
    # one huge site: it gets a process nearly to itself
    weights = {f"s{i:02d}": 10 for i in range(30)} | {"s07": 290}
    parts = plan_processes(config.sites, 2, weights)
    big = next(p for p in parts if any(s.name == "s07" for s in p))
    assert sum(weights[s.name] for s in big) == 290 and len(big) == 1


def test_auto_keeps_one_process_for_a_small_config_and_caps_at_the_hosts(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert resolve_processes("auto", 5) == 1
    assert resolve_processes("auto", 39) == 1
    assert resolve_processes("auto", 40) == 2
    assert resolve_processes("auto", 3000) == 2
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert resolve_processes("auto", 3000) == 4
    assert resolve_processes(8, 3) == 3 and resolve_processes(1, 3000) == 1


@pytest.mark.parametrize("value", [0, 33, "two", True, 1.5])
def test_processes_is_validated_naming_the_key(value):
    with pytest.raises(ConfigError) as e:
        config_from_dict({"crawl": {"processes": value}})
    assert str(e.value).startswith("crawl.processes: must be auto or a whole number from 1 to 32")


def test_nianbao_crawl_reads_processes_from_the_config(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"crawl": {"processes": "many"}, "sites": []}), encoding="utf-8")
    proc = subprocess.run([NIANBAO, "--config", str(cfg), "crawl"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "crawl.processes" in proc.stderr, proc.stderr


# -- a child killed midway -------------------------------------------------------------------------------
def _crawl_children() -> list[tuple[int, list[str]]]:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().decode("utf-8", "replace").split("\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and "crawler.crawl" in argv:
            out.append((int(d), argv))
    return out


def test_a_killed_child_is_recorded_and_the_other_stores_everything(tmp_path):
    zoo = Zoo()
    db = tmp_path / "k.db"
    with zoo.serve():
        config = config_from_dict({"crawl": {**CRAWL, "download_delay": 0.8, "processes": 2},
                                   "sites": zoo.site_configs(list(SITES))})
        box = {}
        with Store(db) as store:
            thread = threading.Thread(target=lambda: box.update(summary=run_crawl(config, store, progress=False,
                                                                                    timeout=300)))
            thread.start()
            victim, victim_sites = None, []
            started = time.monotonic()
            with sqlite_utils.Database(db) as reader:
                while victim is None and time.monotonic() - started < 120:
                    for pid, argv in _crawl_children():
                        if "crawl 2/2" in argv:
                            names = [argv[i + 1] for i, a in enumerate(argv) if a == "--site"]
                            n = reader.execute(f"SELECT COUNT(*) FROM fetches WHERE site IN "
                                               f"({','.join('?' * len(names))})", names).fetchone()[0] \
                                if reader["fetches"].exists() else 0
                            if n >= 3:  # midway: it has stored some of its documents
                                victim, victim_sites = pid, names
                    time.sleep(0.1)
                assert victim is not None, "the second crawl process never stored anything"
                os.kill(victim, signal.SIGKILL)
            thread.join(timeout=300)
        summary = box["summary"]
        d = sqlite_utils.Database(db)
        run = next(d["runs"].rows_where("kind = 'crawl'"))
        assert run["status"] == "partial", run  # the zoo alone makes a whole crawl partial: see the error
        assert "crawl process 2 of 2" in run["error"] and "SIGKILL" in run["error"], run["error"]
        assert "the other crawl processes ran to their end" in run["error"]
        stats = json.loads(run["stats"])
        for name in victim_sites:
            assert stats["sites"][name]["failures"].get(PROCESS_DIED) == 1, stats["sites"][name]
            assert stats["sites"][name]["status"] in ("partial", "failed")
        survivors = [n for n in SITES if n not in victim_sites]
        assert survivors and all(PROCESS_DIED not in summary.sites[n].failures for n in survivors), summary.render()
        documents = {r["url"] for r in d["documents"].rows}
        for name in survivors:  # the other process carried on to its end
            assert zoo.expected_documents(name) <= documents, name
        # what the killed process had committed is there: every fetch it recorded with content has its document
        ok = {r["url"] for r in d["fetches"].rows_where("fetch_status = 'ok'") if r["site"] in victim_sites}
        assert ok and ok <= documents
        assert sum(stats["sites"][n]["reports"] for n in victim_sites) == len(ok)
        with Store(db) as store:
            assert store.integrity_check() == "ok"
            # the next night finishes the killed sites
            zoo.clear_logs()
            again = run_crawl(config, store, progress=False, timeout=300)
        assert again.error is None, again.render()
        documents = {r["url"] for r in d["documents"].rows}
        for name in victim_sites:
            assert zoo.expected_documents(name) <= documents, name


def test_the_run_bound_stops_every_process(tmp_path):
    """crawl.max_run_hours (run_crawl's timeout) bounds the whole split crawl: each process still running
    is stopped and named; what they stored stays."""
    zoo = Zoo()
    with zoo.serve():
        # 3 s a request (jittered 1.5-4.5 s) and a 25 s bound: every process has a site of 12 or more requests
        # (36 s and more) while the first reports are stored within about 15 s, so
        # every process is still running at the bound however fast the machine is (at 1 s the zoo's
        # sites could all finish inside 30 s on an idle machine).
        config = config_from_dict({"crawl": {**CRAWL, "download_delay": 3.0, "processes": 2},
                                   "sites": zoo.site_configs(list(SITES))})
        with Store(tmp_path / "t.db") as store:
            summary = run_crawl(config, store, progress=False, timeout=25)
            stored = store.counts().get("documents", 0)
    stopped = [p for p in summary.processes if p["error"]]
    assert stopped, summary.processes
    for p in summary.processes:
        if p["error"]:
            assert p["error"].endswith("exceeded 25s and was stopped"), p["error"]
            assert f"crawl process {p['index']} of 2" in summary.error
        assert all((PROCESS_DIED in summary.sites[n].failures) == bool(p["error"]) for n in p["sites"]), \
            (p, {n: summary.sites[n].failures for n in p["sites"]})
    assert summary.status in ("partial", "failed") and stored > 0


def test_merged_stats_take_a_value_one_process_left_unset():
    """A stat one crawl process reports as None and another as a number (seen in the national
    bench's test: TypeError in the sum) is the number; counts still add up."""
    from crawler.crawl import _merge_stats

    merged = _merge_stats([{"x": None, "n": 2, "y": 1.5}, {"x": 3.0, "n": 5, "y": None}])
    assert merged == {"x": 3.0, "n": 7, "y": 1.5}
