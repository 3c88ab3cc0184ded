"""The command line as scripts meet it: complete help, and config errors as one line with exit 2."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

NIANBAO = str(Path(sys.executable).with_name("nianbao"))
SUBCOMMANDS = ("parse", "ingest", "serve", "crawl", "check", "alert", "run", "schedule", "demo", "status",
               "docs")


def nianbao(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([NIANBAO, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_top_level_help_lists_every_subcommand():
    out = nianbao("--help")
    assert out.returncode == 0
    for name in SUBCOMMANDS:
        assert f"  {name} " in out.stdout, name


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_has_complete_help(name):
    out = nianbao(name, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"Usage: nianbao {name}")
    body = out.stdout.split("\n\n", 2)[1].strip()
    assert len(body) > 20, f"`nianbao {name} --help` says too little: {body!r}"
    assert "Options:" in out.stdout


def test_unknown_subcommand_is_a_usage_error():
    out = nianbao("nosuchcommand")
    assert out.returncode == 2 and "No such command" in out.stderr


def _single_error_line(out: subprocess.CompletedProcess) -> str:
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert "Traceback" not in out.stderr
    return lines[0]


def test_bad_config_stops_with_the_key_and_exit_2(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("sites:\n  - name: a\n    start_url: www.example.gov.cn\n", encoding="utf-8")
    out = nianbao("--config", str(cfg), "run")
    assert out.returncode == 2
    line = _single_error_line(out)
    assert "sites[0].start_url" in line and "http" in line and str(cfg) in line


def test_missing_config_file_named(tmp_path):
    out = nianbao("--config", str(tmp_path / "absent.yaml"), "check")
    assert out.returncode == 2
    assert "absent.yaml" in _single_error_line(out)


def test_missing_smtp_password_names_the_key(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"database: {tmp_path / 'n.db'}\n"
        "alerts:\n  recipients: [a@example.org]\n"
        "  smtp: {host: 127.0.0.1, port: 2525, security: starttls, user: bot, password_env: NB_TEST_ABSENT_PW}\n",
        encoding="utf-8")
    out = nianbao("--config", str(cfg), "run", env={"NB_TEST_ABSENT_PW": ""} and {})
    assert out.returncode == 2
    line = _single_error_line(out)
    assert "alerts.smtp.password_env" in line and "NB_TEST_ABSENT_PW" in line


@pytest.mark.parametrize("command", ["status", "check"])
def test_unreachable_database_path(tmp_path, command):
    cfg = tmp_path / "config.yaml"
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    cfg.write_text(f"database: {blocker / 'sub' / 'n.db'}\n", encoding="utf-8")
    out = nianbao("--config", str(cfg), command)
    assert out.returncode == 2, (out.stdout, out.stderr)
    line = _single_error_line(out)
    assert str(blocker / "sub" / "n.db") in line


def test_generated_docs_are_current():
    """docs/configuration.md and docs/data-model.md are generated: they must match the code."""
    out = nianbao("docs", "--check", cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr + " (run `nianbao docs`)"


def test_docs_check_detects_a_stale_file(tmp_path):
    (tmp_path / "configuration.md").write_text("old", encoding="utf-8")
    out = nianbao("docs", "--check", "--out", str(tmp_path))
    assert out.returncode == 1 and "configuration.md" in out.stderr
    assert nianbao("docs", "--out", str(tmp_path)).returncode == 0
    assert "`sites[].start_url`" in (tmp_path / "configuration.md").read_text(encoding="utf-8")
    assert "## `reports` (table)" in (tmp_path / "data-model.md").read_text(encoding="utf-8")


def test_status_shows_runs_counts_and_outbox(tmp_path):
    db = tmp_path / "n.db"
    seeds = sorted((Path(__file__).resolve().parent / "fixtures" / "seeds").glob("*.txt"))
    assert nianbao("ingest", "--db", str(db), *map(str, seeds)).returncode == 0
    out = nianbao("status", "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert "ingest" in out.stdout and "ok" in out.stdout  # the ingest run
    assert any(line.split()[:2] == ["reports", "5"] for line in out.stdout.splitlines()), out.stdout
    assert "row_total/error" in out.stdout  # seed 001's findings are open
    assert "outbox: empty" in out.stdout
    data = json.loads(nianbao("status", "--db", str(db), "--json").stdout)
    assert data["counts"]["reports"] == 5 and data["open_findings"]["placeholder/warning"] == 1
