"""`nianbao parse`: readable output, the --json contract (one object per file per line), exit codes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEEDS = sorted((FIXTURES / "seeds").glob("*.txt"))
SPEC_KEYS = {"source", "agency", "year", "title", "published", "template", "table2", "table3", "table4",
             "sections", "warnings", "findings"}


def run(*args):
    return CliRunner().invoke(main, ["parse", *map(str, args)])


def test_json_one_object_per_file_per_line():
    res = run("--json", *SEEDS)
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == len(SEEDS)
    for line, seed in zip(lines, SEEDS):
        obj = json.loads(line)
        assert SPEC_KEYS <= set(obj)
        assert obj["source"]["path"] == str(seed) and obj["source"]["format"] == "text"
        assert len(obj["source"]["sha256"]) == 64
        want = json.loads((FIXTURES / "expected" / f"{seed.stem}.json").read_text(encoding="utf-8"))
        for key in ("agency", "year", "title", "published", "template", "table2", "table3", "table4"):
            assert obj[key] == want[key]
        assert sorted(f["rule"] for f in obj["findings"]) == sorted(i["rule"] for i in want["inconsistencies"])
        assert "\\u" not in line  # Chinese printed as is (ensure_ascii=False)


def test_readable_rendering_shows_tables_and_findings():
    res = run(SEEDS[1])
    assert res.exit_code == 0
    out = res.stdout
    assert "市中区卫生健康局2024年政府信息公开工作年度报告" in out
    assert "published: 2025-01-16" in out
    for label in ("行政处罚", "（七）总计", "四、结转下年度继续办理", "行政复议", "复议后起诉"):
        assert label in out
    assert "findings: 4" in out and "table3.unavailable_not_held.total" in out
    assert "合计不等于分项之和" in out and "模板占位符未删除" in out
    row = next(ln for ln in out.splitlines() if "1.本机关不掌握" in ln)
    assert row.split()[-7:] == ["0", "0", "0", "0", "0", "0", "1"]


def test_url_is_recorded():
    res = run("--json", "--url", "http://www.example.gov.cn/zfxxgknb/2024n/t1.html", SEEDS[0])
    assert res.exit_code == 0
    assert json.loads(res.stdout)["source"]["url"] == "http://www.example.gov.cn/zfxxgknb/2024n/t1.html"


def test_failed_files_exit_1_with_reason_on_stderr(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    news = tmp_path / "news.txt"
    news.write_text("区政府召开政务公开工作推进会\n1月5日，区政府办公室召开推进会，部署2024年工作。\n", encoding="utf-8")
    res = run("--json", SEEDS[0], empty, news)
    assert res.exit_code == 1
    objs = [json.loads(x) for x in res.stdout.splitlines()]
    assert [o["status"] for o in objs] == ["parsed", "empty", "not_a_report"]
    assert str(empty) in res.stderr and str(news) in res.stderr
    assert "empty" in res.stderr and "not_a_report" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    res = run(news)
    assert res.exit_code == 1 and "status: not_a_report" in res.stdout


@pytest.mark.parametrize("args", [[], ["/nonexistent/report.txt"], ["--url", "http://x", "a", "b"], ["--bogus"]])
def test_usage_errors_exit_2(args, tmp_path):
    if args[:1] == ["--url"]:
        a, b = tmp_path / "a.txt", tmp_path / "b.txt"
        a.write_text("x"), b.write_text("y")
        args = ["--url", "http://x", str(a), str(b)]
    res = run(*args)
    assert res.exit_code == 2
    assert "Usage" in res.stderr or "Error" in res.stderr


def test_console_command(tmp_path):
    exe = Path(sys.executable).with_name("nianbao")
    if not exe.exists():
        pytest.skip("console script not installed in this interpreter's bin directory")
    proc = subprocess.run([str(exe), "parse", "--json", str(SEEDS[3])], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["title"] == "2024年度互助县卫生健康局政府信息公开工作报告"
