"""config.yaml is validated on load; every error names the key; docs cannot drift from the model."""
from pathlib import Path

import pytest

from crawler.config import ConfigError, configuration_reference, load_config

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path, text: str) -> Path:
    p = tmp_path / "config.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_root_config_is_valid():
    cfg = load_config(ROOT / "config.yaml")
    assert cfg.sites and all(s.start_url.startswith("http") for s in cfg.sites)
    assert cfg.schedule.timezone == "Asia/Shanghai"


@pytest.mark.parametrize(
    "text, key, words",
    [
        ("sites:\n  - name: a\n    start_url: ftp://x\n", "sites[0].start_url", "http"),
        ("sites:\n  - name: a\n", "sites[0].start_url", "required"),
        ("sites:\n  - name: a\n    start_url: http://x\n    start_urll: http://y\n", "sites[0].start_urll", "unknown key"),
        ("sites:\n  - {name: a, start_url: 'http://x'}\n  - {name: a, start_url: 'http://y'}\n", "sites[1].name", "duplicate"),
        ("crawl:\n  concurrent_per_domain: 50\n", "crawl.concurrent_per_domain", "less than or equal"),
        ("schedule:\n  cron: '* *'\n", "schedule.cron", "5 fields"),
        ("schedule:\n  cron: '61 2 * * *'\n", "schedule.cron", "higher than the maximum"),
        ("schedule:\n  cron: '30 2 * * someday'\n", "schedule.cron", "not a valid crontab"),
        ("schedule:\n  cron: '30 2 31 2 *'\n", "schedule.cron", "never fires"),
        ("schedule:\n  timezone: Mars/Olympus\n", "schedule.timezone", "unknown timezone 'Mars/Olympus'"),
        ("schedule:\n  timezone: ../../etc/passwd\n", "schedule.timezone", "unknown timezone"),
        ("alerts:\n  smtp:\n    user: u\n    password_env: P\n", "alerts.smtp.allow_plaintext_auth", "in clear"),
        ("alerts:\n  apprise: ['hooks.example.org/x']\n", "alerts.apprise[0]", "not an apprise URL"),
        ("alerts:\n  apprise: ['json://a/b', 'json://a/{env:}']\n", "alerts.apprise[1]", "{env:NAME}"),
        ("alerts:\n  smtp:\n    security: tls\n", "alerts.smtp.security", "none"),
        ("monitor:\n  grace_days: soon\n", "monitor.grace_days", "integer"),
        ("- just\n- a list\n", "(root)", "mapping"),
        ("sites: [\n", "line", "YAML"),
    ],
)
def test_errors_name_the_key(tmp_path, text, key, words):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert err.value.key.startswith(key), err.value
    assert words in str(err.value), err.value
    assert str(tmp_path / "config.yaml") in str(err.value)


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "nope.yaml")
    assert "not found" in str(err.value)


def test_smtp_password_comes_from_the_named_environment_variable(tmp_path, monkeypatch):
    cfg = load_config(write(tmp_path, "alerts:\n  smtp:\n    security: starttls\n    user: u\n"
                                      "    password_env: NB_TEST_PW\n"))
    monkeypatch.delenv("NB_TEST_PW", raising=False)
    with pytest.raises(ConfigError) as err:
        cfg.alerts.smtp.password()
    assert err.value.key == "alerts.smtp.password_env" and "NB_TEST_PW" in str(err.value)
    monkeypatch.setenv("NB_TEST_PW", "s3cret")
    assert cfg.alerts.smtp.password() == "s3cret"


def test_relative_database_path_resolves_against_the_config_file(tmp_path):
    cfg = load_config(write(tmp_path, "database: db/x.db\n"))
    assert cfg.database_path() == tmp_path / "db" / "x.db"


def test_configuration_reference_is_current():
    doc = ROOT / "docs" / "configuration.md"
    assert doc.read_text(encoding="utf-8") == configuration_reference() + "\n", (
        "docs/configuration.md is stale: run `nianbao docs`")


def test_valid_schedule_and_auth_settings_load(tmp_path):
    cfg = load_config(write(tmp_path, "schedule:\n  cron: '0 8 * * mon-fri'\n  timezone: Asia/Urumqi\n"
                                      "alerts:\n  smtp:\n    user: u\n    allow_plaintext_auth: true\n"
                                      "  apprise: ['dingtalk://{env:NB_DING}/', 'json://127.0.0.1:9/hook']\n"))
    assert cfg.schedule.timezone == "Asia/Urumqi" and cfg.alerts.smtp.allow_plaintext_auth
    assert cfg.alerts.apprise[0] == "dingtalk://{env:NB_DING}/"  # kept as written: the secret is not read on load


@pytest.mark.parametrize("text, key", [
    ("schedule:\n  timezone: Mars/Olympus\n", "schedule.timezone"),
    ("schedule:\n  cron: '61 2 * * *'\n", "schedule.cron"),
])
def test_bad_schedule_is_one_line_exit_2(tmp_path, text, key):
    import subprocess
    import sys

    nianbao = str(Path(sys.executable).with_name("nianbao"))
    out = subprocess.run([nianbao, "--config", str(write(tmp_path, text)), "status"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{key}:" in lines[0] and "Traceback" not in out.stderr
