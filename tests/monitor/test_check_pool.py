"""The check runner's worker pool: the same findings, in the same order, as one process; and the
copied rule's MinHash LSH path, taken for a site of hundreds of agencies, still finds a copy.

The databases are stored the way the crawl stores reports (mon_helpers.store_report), from the
hand-checked seed values; the copied text is test_runner's copy between two demo agencies.
"""
from __future__ import annotations

import copy
import os
import random
import shutil
from datetime import date, datetime

import pytest

from monitor.checks import cross_year, runner
from storage import check_reads
from monitor.checks.runner import MonitorSettings, run_checks
from storage.db import Store
from mon_helpers import balanced, expected, previous_year_of, report_from, store_report

JUNE = date(2025, 6, 1)
SETTINGS = MonitorSettings(sites=None)
_WORDS = ("公开", "解读", "回应", "平台", "制度", "培训", "监督", "考核", "政策", "办理", "渠道", "规范",
          "专栏", "目录", "申请", "答复", "督查", "整改", "会议", "网站", "数据", "服务", "事项", "清单")
COPIED_BODY = ("本机关坚持以公开为常态、不公开为例外，围绕中心工作，持续深化政务公开，加强政策解读和回应关切，"
               "规范依申请公开办理流程，完善政府信息管理制度，不断提升公开质量和实效。") * 4


def _own_words(rng: random.Random, agency: str, year: int) -> dict[str, str]:
    words = "，".join("".join(rng.choice(_WORDS) for _ in range(3)) for _ in range(40))
    return {"overview": f"{year}年，{agency}{words}。", "proactive": "见下表。", "requests": "见下表。",
            "appeals": "见下表。", "problems": "存在的问题：解读形式较为单一。下一步将丰富解读形式。",
            "other": "未收取信息处理费。"}


def _national(path, sites: int) -> None:
    """``sites`` sites of two agencies, two years each; planted: a broken carry-over (site 1), a
    missing 2024 report (site 2), a 2024 narrative copied between the two agencies of site 0."""
    rng = random.Random(5)
    seeds = [expected(n) for n in ("000", "002", "003", "004")]
    with Store(path) as store, store.transaction():
        for s in range(sites):
            site = f"site{s:03d}"
            for i in range(2):
                data = copy.deepcopy(seeds[(s + i) % len(seeds)])
                data["table2"]["punishment"] = rng.randint(0, 500)
                prev = previous_year_of(balanced(data))
                if s == 1 and i == 0:
                    prev["table3"]["carried_forward"][0] += 2
                    prev["table3"]["carried_forward"][6] += 2
                    balanced(prev)
                name = f"{site}第{i}局"
                cur = {**_own_words(rng, name, 2024), "overview": COPIED_BODY} if s == 0 else _own_words(rng, name, 2024)
                store_report(store, report_from(prev, agency=name, sections=_own_words(rng, name, 2023)),
                             site=site, seen=datetime(2024, 1, 20))
                if not (s == 2 and i == 1):
                    store_report(store, report_from(data, agency=name, sections=cur), site=site,
                                 seen=datetime(2025, 1, 20))


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    path = tmp_path_factory.mktemp("pool") / "national.db"
    _national(path, runner.POOL_MIN_SITES)
    return path


def _run(path, workers: int):
    with Store(path) as store:
        assert runner.pool_workers(store, runner.POOL_MIN_SITES, workers) == workers
        first = run_checks(store, SETTINGS, today=JUNE, workers=workers)
        second = run_checks(store, SETTINGS, today=JUNE, workers=workers)
        rows = store.finding_rows(open_only=False)
    return first, second, rows


def test_the_pool_finds_what_one_process_finds(national, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "SITES_PER_TASK", 1)  # a task per site: their results come back in order
    one, two = tmp_path / "one.db", tmp_path / "two.db"
    shutil.copy(national, one)
    shutil.copy(national, two)
    first1, second1, rows1 = _run(one, 1)
    first2, second2, rows2 = _run(two, 2)
    assert [f.to_dict() for f in first2.new] == [f.to_dict() for f in first1.new]
    assert first2.reports == first1.reports == 4 * runner.POOL_MIN_SITES - 1
    assert first2.checked_ids == first1.checked_ids and first2.problems == first1.problems == []
    assert second1.new == second2.new == [] and second2.still_open == second1.still_open == len(first1.new)
    drop = ("id", "first_seen", "last_seen")
    assert [{k: v for k, v in r.items() if k not in drop} for r in rows2] == \
        [{k: v for k, v in r.items() if k not in drop} for r in rows1]
    # what was planted, and nothing else
    assert sorted((f.rule, f.site, f.agency) for f in first2.new) == PLANTED


class _KillsTheWorker(MonitorSettings):
    """Settings whose unpickling (in a worker, never here) ends the worker process at once."""

    def __reduce__(self):
        return os._exit, (1,)


PLANTED = [("carry_continuity", "site001", "site001第0局"), ("copied", "site000", "site000第0局"),
           ("copied", "site000", "site000第1局"), ("missing", "site002", "site002第1局")]


def test_a_killed_worker_leaves_the_pass_to_this_process(national, tmp_path, caplog):
    path = tmp_path / "k.db"
    shutil.copy(national, path)
    with Store(path) as store:
        summary = run_checks(store, _KillsTheWorker(sites=None), today=JUNE, workers=2)
    assert "check workers failed" in caplog.text
    assert sorted((f.rule, f.site, f.agency) for f in summary.new) == PLANTED
    assert summary.reports == 4 * runner.POOL_MIN_SITES - 1


def _site_or_exit(name: str) -> str:
    """In a worker, unpickling the last site's name: the worker dies there (the tasks before it
    have come back by then, but for the other worker's current one)."""
    if name == LAST_SITE:
        os._exit(1)
    return name


LAST_SITE = f"site{runner.POOL_MIN_SITES - 1:03d}"


class _KillsItsWorker(str):
    def __reduce__(self):
        return _site_or_exit, (str(self),)


def test_a_killed_worker_leaves_only_its_sites_to_this_process(national, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(runner, "SITES_PER_TASK", 1)
    here: list[str | None] = []
    check_site = runner.check_site

    def counted(store, settings, site, **kw):  # in this process only: the workers import their own
        here.append(site)
        return check_site(store, settings, site, **kw)

    monkeypatch.setattr(runner, "check_site", counted)
    path = tmp_path / "k1.db"
    shutil.copy(national, path)
    sites = [f"site{s:03d}" for s in range(runner.POOL_MIN_SITES)]
    with Store(path) as store:
        summary = run_checks(store, SETTINGS, today=JUNE, workers=2, sites=[_KillsItsWorker(s) for s in sites])
    assert "check workers failed" in caplog.text
    # the killed task's site, and at most what the other worker had in hand or queued: not the pass
    assert LAST_SITE in here and len(here) == len(set(here)) and len(here) <= 4
    # each site checked once, none lost, in the order of the sites
    assert summary.checked_ids == sorted(summary.checked_ids) and len(set(summary.checked_ids)) == len(summary.checked_ids)
    assert summary.reports == len(summary.checked_ids) == 4 * runner.POOL_MIN_SITES - 1
    assert sorted((f.rule, f.site, f.agency) for f in summary.new) == PLANTED


def test_the_sites_read_for_the_runner_are_those_of_the_stored_reports(national, tmp_path):
    path = tmp_path / "s.db"
    shutil.copy(national, path)
    with Store(path) as store:
        store_report(store, report_from(expected("001")), site=None, seen=datetime(2025, 1, 20))  # a local ingest
        sites = check_reads.report_sites(store)
        assert sites == sorted({r["site"] for r in store.reports()}, key=lambda s: s or "")
    assert sites[0] is None and sites[1:] == [f"site{s:03d}" for s in range(runner.POOL_MIN_SITES)]


def test_no_pool_for_few_sites_or_inside_a_write_transaction(national, tmp_path):
    path = tmp_path / "x.db"
    shutil.copy(national, path)
    with Store(path) as store:
        assert runner.pool_workers(store, runner.POOL_MIN_SITES - 1) == 1
        assert store.readable_elsewhere()
        with store.transaction():  # the workers could not see what this transaction wrote
            assert not store.readable_elsewhere()
            assert runner.pool_workers(store, runner.POOL_MIN_SITES, 2) == 1
    with Store(path, migrate_to=1) as held:  # held at an old schema: its readers would not agree
        assert not held.readable_elsewhere()


def test_a_site_of_hundreds_of_agencies_takes_the_lsh_path_and_still_finds_the_copy(tmp_path, monkeypatch):
    """The demo's copied text (two health agencies of the demo, seeds 000 and 002) among enough
    agencies of one site that the copied rule compares them through MinHash LSH candidates."""
    rng = random.Random(9)
    n = cross_year.LSH_MIN_GROUP + 20
    with Store(tmp_path / "big.db") as store:
        with store.transaction():
            for i in range(n):
                data = expected(("000", "002")[i]) if i < 2 else copy.deepcopy(expected("003"))
                if i >= 2:
                    data["table2"]["punishment"] = 1000 + i  # no two agencies' tables alike
                name = data["agency"] if i < 2 else f"示例县第{i}局"
                sections = {**_own_words(rng, name, 2024), "overview": COPIED_BODY} if i < 2 else \
                    _own_words(rng, name, 2024)
                store_report(store, report_from(data, agency=name, sections=sections), seen=datetime(2025, 1, 20))
        methods = []
        compare_all = cross_year.Prepared.compare_all

        def spy(self, reports, cutoff, *, method="auto"):
            methods.append((len(reports), method))
            return compare_all(self, reports, cutoff, method=method)

        monkeypatch.setattr(cross_year.Prepared, "compare_all", spy)
        monkeypatch.setattr(cross_year, "candidate_pairs", _counting(cross_year.candidate_pairs, calls := []))
        summary = run_checks(store, MonitorSettings(sites=["demo"]), today=JUNE)
    assert methods == [(n, "auto")] and calls == [n], "one group of n, compared through LSH candidates"
    assert sorted((f.rule, f.agency, f.subject) for f in summary.new) == [
        ("copied", "东风区卫生健康局", "text|other_agency|伊美区卫生健康局|2024"),
        ("copied", "伊美区卫生健康局", "text|other_agency|东风区卫生健康局|2024"),
    ]


def _counting(fn, calls: list):
    def wrapped(texts):
        calls.append(len(texts))
        return fn(texts)
    return wrapped
