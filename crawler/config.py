"""config.yaml: one pydantic model, loaded and validated in one place.

Errors name the key (``sites[0].start_url: ...``) so that a person can fix the file.
``docs/configuration.md`` is generated from this model (``nianbao docs``), so it cannot drift.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_CONFIG = "config.yaml"


class ConfigError(Exception):
    """A config problem, with the key at fault.  The CLI prints it on one line, exit code 2."""

    def __init__(self, key: str, message: str, path: str | Path | None = None) -> None:
        self.key, self.message, self.path = key, message, path
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{key}: {message}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RosterEntry(_Model):
    """An agency expected to publish every year."""

    name: str = Field(description="Agency name as it appears in report titles")
    kind: Literal["department", "town", "government"] = Field(
        "department",
        description="department/town: due 31 January; government (本级政府 aggregated report): 31 March",
    )


class Selectors(_Model):
    """CSS selectors that override a platform adapter's defaults for one site."""

    list_item: str | None = Field(None, description="Entries of a listing page (each an <a> or contains one)")
    next_page: str | None = Field(None, description="Link to the next listing page")
    body: str | None = Field(None, description="Report body container on an article page")


class Site(_Model):
    name: str = Field(description="Short unique name, used in the database and alerts")
    region: str | None = Field(None, description="Region shown in Datasette facets, e.g. 北京市大兴区; it also "
                                               "qualifies a short agency name its pages print (区教育局)")
    start_url: str = Field(description="The portal's 政务公开 page or its 年报 column")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Extra hosts the site's pages, redirects and attachments may come from, as `host` "
                    "(ports 80 and 443) or `host:port`; the start URL's host is always allowed",
    )
    platform: Literal["auto", "trs", "hanweb", "gkmlpt", "generic", "jpaas", "hanweb_xxgk", "ucap", "vsb"] = Field(
        "auto", description="Platform adapter; 'auto' detects it from each page")
    selectors: Selectors = Field(default_factory=Selectors)
    roster: list[RosterEntry] = Field(default_factory=list, description="Agencies expected to publish")
    obey_robots: bool | None = Field(None, description="Override crawl.obey_robots for this site")
    fetch: Literal["http", "browser"] = Field(
        "http", description="browser: fetch this site's pages and files through headless Chromium, which "
                            "runs JavaScript challenges (瑞数 412, 加速乐 521) and reuses their cookies")
    download_delay: float | None = Field(None, ge=0, description="Override crawl.download_delay (seconds)")
    max_pages: int | None = Field(None, ge=1, description="Override crawl.max_pages_per_site for this site")
    recipients: list[str] = Field(
        default_factory=list, description="Alert recipients for this site (default: alerts.recipients)")

    @field_validator("start_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v

    @field_validator("allowed_hosts")
    @classmethod
    def _bare_hosts(cls, v: list[str]) -> list[str]:
        for h in v:
            if not h or "/" in h or "@" in h or h != h.strip():
                raise ValueError(f"{h!r} must be a host name or host:port, without scheme or path")
        return v


class Crawl(_Model):
    contact: str = Field("nianbao@example.org",
                         description="Contact put in the User-Agent so site owners can reach you")
    obey_robots: bool = Field(True, description="Obey robots.txt, including Crawl-delay")
    download_delay: float = Field(1.0, ge=0, description="Minimum seconds between requests to one host")
    concurrent_per_domain: int = Field(2, ge=1, le=8, description="At most this many requests per host at once")
    autothrottle: bool = Field(True, description="Scrapy AutoThrottle")
    timeout: float = Field(30, gt=0, description="Download timeout, seconds")
    retries: int = Field(3, ge=0, description="Retries on 5xx and timeouts, with backoff")
    max_size_mb: float = Field(50, gt=0, description="Largest document fetched (DOWNLOAD_MAXSIZE)")
    max_pages_per_site: int = Field(
        5000, ge=1, description="Most requests (pages, data replies, attachments) one site may make in a run; "
                                "beyond it the site's crawl stops, recorded as cap_site_pages")
    max_listing_pages: int = Field(
        100, ge=1, le=1000, description="Most pages read of one listing (a column's pager or data pages): page counts "
                               "announced by a page and 下一页 chains are cut there, recorded as cap_listing_pages")
    failing_after_runs: int = Field(
        2, ge=1, description="A site failing the same way this many runs in a row is reported as failing")
    max_run_hours: float = Field(
        6, gt=0, description="A crawl still running after this many hours is killed and recorded as failed "
                             "(so one hung crawl cannot block every later night)")
    processes: int | Literal["auto"] = Field(
        "auto", description="Crawl processes (one Scrapy reactor, one core each), the sites split between them "
                            "with each host in one process only; auto: one per CPU core up to 4, and no more "
                            "than one per 20 hosts (a small config keeps one process)")

    @field_validator("processes", mode="before")
    @classmethod
    def _processes(cls, v):
        if v == "auto" or (isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 32):
            return v
        raise ValueError(f"must be auto or a whole number from 1 to 32, not {v!r}")


class Parse(_Model):
    """The parse stage: stored document versions -> reports, in a pool of sandboxed worker processes."""

    workers: int = Field(0, ge=0, le=64, description="Worker processes (0: one per CPU core)")
    memory_mb: int = Field(2048, ge=256, description="Address-space limit of each worker (RLIMIT_AS), MB")
    cpu_seconds: int = Field(300, ge=1, description="CPU seconds one document may use (RLIMIT_CPU)")
    timeout: float = Field(600, gt=0, description="Wall-clock seconds one document may take before its "
                                                  "worker (and any converter it started) is killed")
    office_timeout: float = Field(120, gt=0, description="Seconds one LibreOffice conversion (DOC/WPS) may take")
    office_memory_mb: int = Field(4096, ge=512, description="Address-space limit of LibreOffice, MB")
    reparse_per_run: int = Field(
        500, ge=0, description="`nianbao run` re-parses at most this many documents read by an older parser")


class Monitor(_Model):
    grace_days: int = Field(7, ge=0, description="Days after the deadline before a report counts as late/missing")
    crawl_interval_hours: float = Field(
        24, gt=0, description="Expected time between crawls (back-dating tolerance, catch-up runs)")
    swing_factor: float = Field(5, gt=1, description="A key figure changing by more than this factor is a swing")
    swing_min_base: int = Field(10, ge=0, description="Swings are only reported above this base value")
    copied_similarity: float = Field(0.95, gt=0, le=1,
                                     description="Text similarity at or above which a report counts as copied")


class Smtp(_Model):
    host: str = Field("localhost", description="SMTP server host")
    port: int = Field(25, ge=1, le=65535, description="SMTP server port")
    security: Literal["none", "ssl", "starttls"] = Field("none", description="none, ssl (465) or starttls (587)")
    user: str | None = Field(None, description="SMTP user; the password is read from password_env")
    password_env: str | None = Field(
        None, description="Name of the environment variable holding the SMTP password (never stored)")
    sender: str = Field("nianbao@localhost", alias="from", description="From address")
    timeout: float = Field(30, gt=0, description="SMTP timeout, seconds")
    allow_plaintext_auth: bool = Field(
        False, description="Allow AUTH (user and password) with security: none; only for a server on this "
                           "machine, since the password would cross the network in clear")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _auth_over_tls(self) -> "Smtp":
        if self.user and self.security == "none" and not self.allow_plaintext_auth:
            raise ValueError("allow_plaintext_auth: alerts.smtp.user is set but security is none, so the password "
                             "would cross the network in clear; use security: starttls or ssl "
                             "(or allow_plaintext_auth: true for a server on this machine)")
        return self

    def password(self) -> str | None:
        if not self.password_env:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise ConfigError("alerts.smtp.password_env",
                              f"environment variable {self.password_env} is not set; export it or remove smtp.user")
        return value


class Alerts(_Model):
    enabled: bool = Field(True, description="Send email alerts")
    recipients: list[str] = Field(default_factory=list, description="Default recipients of the digest")
    immediate_severities: list[Literal["error", "warning", "info"]] = Field(
        default_factory=list,
        description="Severities sent at once, in their own email, instead of waiting for the digest")
    datasette_url: str = Field("http://127.0.0.1:8001",
                               description="Base URL of `nianbao serve`, used for links in emails")
    smtp: Smtp = Field(default_factory=Smtp)
    email: bool = Field(True, description="Send the digest by email (alerts.smtp); false for apprise only")
    apprise: list[str] = Field(
        default_factory=list,
        description="Apprise URLs that also get the digest (markdown): dingtalk://, wecombot://, feishu://, "
                    "slack://, tgram://, json:// ...; write secrets as {env:NAME}, read from the environment "
                    "when sending and never stored")
    max_attempts: int = Field(
        8, ge=1, description="After this many failed sends an alert is dead: no more retries, the run exits 1 "
                             "and `nianbao status` lists it until `nianbao alert --retry-dead` or `--drop ID`")

    @field_validator("apprise")
    @classmethod
    def _apprise_urls(cls, urls: list[str]) -> list[str]:
        for i, url in enumerate(urls):
            if not re.match(r"^[a-z][a-z0-9+.-]*://\S", url):
                raise ValueError(f"[{i}]: {url!r} is not an apprise URL (schema://..., e.g. dingtalk://TOKEN)")
            from monitor.channels import ENV_PLACEHOLDER

            rest = ENV_PLACEHOLDER.sub("", url)
            if "{env:" in rest or "{env" in rest:
                raise ValueError(f"[{i}]: malformed placeholder; write {{env:NAME}} with NAME a variable name")
        return urls


class Schedule(_Model):
    cron: str = Field("30 2 * * *", description="Crontab expression (minute hour day month weekday)")
    timezone: str = Field("Asia/Shanghai", description="Timezone of the cron expression")
    misfire_grace_hours: float = Field(6, gt=0, description="A late run still runs if this many hours late")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {v!r}: use an IANA name such as Asia/Shanghai") from None
        return v

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, v: str) -> str:
        from datetime import datetime, timezone

        from apscheduler.triggers.cron import CronTrigger

        if len(v.split()) != 5:
            raise ValueError("must have 5 fields: minute hour day month weekday")
        try:
            trigger = CronTrigger.from_crontab(v, timezone="UTC")
        except ValueError as e:
            raise ValueError(f"not a valid crontab expression {v!r}: {e}") from None
        if trigger.get_next_fire_time(None, datetime.now(timezone.utc)) is None:
            raise ValueError(f"{v!r} never fires (no such date)")
        return v


class Serve(_Model):
    host: str = Field("127.0.0.1", description="Datasette host")
    port: int = Field(8001, ge=0, le=65535, description="Datasette port (0 picks a free one)")
    public: bool = Field(
        False, description="Public reading room: no arbitrary SQL, outbox/runs/fetches/blobs/events hidden, no "
                           "sign-in or triage. Required to listen on a non-loopback host")
    accounts: dict[str, str] = Field(
        default_factory=dict,
        description="Officers who may sign in and triage findings: name -> name of the environment variable "
                    "holding the password hash (make one with `datasette hash-password`); unused when public")


class Frontier(_Model):
    """Several crawl machines sharing one crawl through Redis: `nianbao crawl --frontier redis://HOST:PORT/N` on
    each crawl node, `nianbao ingest-worker --from redis://…` on the database machine (docs/scale.md)."""

    job: str = Field("nianbao", pattern=r"^[A-Za-z0-9_.-]{1,64}$",
                     description="Prefix of every Redis key of the shared crawl (letters, digits, _ . -); two "
                                 "crawls sharing one Redis server need two names")
    max_item_mb: float = Field(64, gt=0, le=512, description="Largest item (a document's bytes and its fetch facts) "
                                                             "a crawl node pushes; a larger one is recorded as "
                                                             "too_large, not pushed (Redis strings stop at 512 MB)")
    max_queued_items: int = Field(2000, ge=1, description="Crawl nodes wait before pushing more items while this "
                                                          "many wait for the ingest worker")
    max_queued_mb: float = Field(1024, gt=0, description="… or while the items waiting weigh this many MB (bounds "
                                                         "the Redis server's memory)")
    key_ttl_hours: float = Field(72, gt=0, description="Every key of the shared crawl expires after this many hours "
                                                       "without activity (an abandoned crawl frees its memory)")
    node_timeout: float = Field(120, ge=10, le=3600,
                                description="Seconds without a heartbeat after which a crawl node counts as gone "
                                            "(the others then finish without it)")
    parse_every: int = Field(500, ge=1, description="The ingest worker runs the parse stage after this many new "
                                                    "documents, and whenever the queue is empty")


class Config(_Model):
    database: str = Field("data/nianbao.db", description="SQLite database path (relative to the config file)")
    crawl: Crawl = Field(default_factory=Crawl, description="How politely and how hard to crawl")
    sites: list[Site] = Field(default_factory=list, description="The portals to crawl (see `sites[]`)")
    parse: Parse = Field(default_factory=Parse, description="How documents are parsed (sandboxed pool)")
    monitor: Monitor = Field(default_factory=Monitor)
    alerts: Alerts = Field(default_factory=Alerts)
    schedule: Schedule = Field(default_factory=Schedule)
    serve: Serve = Field(default_factory=Serve)
    frontier: Frontier = Field(default_factory=Frontier, description="A crawl shared by several machines (Redis)")

    # where the file was read from; relative paths resolve against it
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    @model_validator(mode="after")
    def _unique_sites(self) -> "Config":
        seen: set[str] = set()
        for i, s in enumerate(self.sites):
            if s.name in seen:
                raise ValueError(f"sites[{i}].name: duplicate site name {s.name!r}")
            seen.add(s.name)
        return self

    def database_path(self) -> Path:
        p = Path(self.database)
        return p if p.is_absolute() else self.base_dir / p

    def site(self, name: str) -> Site:
        for s in self.sites:
            if s.name == name:
                return s
        raise ConfigError("sites", f"no site named {name!r}")


def _key(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(root)"


def load_config(path: str | Path | None = None, *, required: bool = False) -> Config:
    """Read and validate config.yaml.  A missing optional file gives the defaults."""
    p = Path(path or os.environ.get("NIANBAO_CONFIG") or DEFAULT_CONFIG)
    if not p.exists():
        if required or path:
            raise ConfigError("(file)", "config file not found; pass --config PATH", p)
        return Config(base_dir=Path.cwd())
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise ConfigError(where, f"not valid YAML: {getattr(e, 'problem', e)}", p) from None
    if not isinstance(raw, dict):
        raise ConfigError("(root)", "must be a mapping of keys to values", p)
    return config_from_dict(raw, base_dir=p.resolve().parent, path=p)


def config_from_dict(raw: dict, *, base_dir: Path | None = None, path: str | Path | None = None) -> Config:
    try:
        return Config(**raw, base_dir=base_dir or Path.cwd())
    except ValidationError as e:
        err = e.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        key = _key(err["loc"])
        if ": " in msg and msg.split(": ", 1)[0].startswith("sites["):
            key, msg = msg.split(": ", 1)
        elif re.match(r"^(\[\d+\]|[a-z_]+)(\.[a-z_]+|\[\d+\])*: ", msg):  # a validator naming its sub-key
            sub, msg = msg.split(": ", 1)
            key = key + sub if sub.startswith("[") else f"{key}.{sub}"
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling against docs/configuration.md)"
        raise ConfigError(key, msg, path) from None


# -- the configuration reference, generated from the model (docs/configuration.md) ------------

def _type_name(annotation) -> str:
    text = repr(annotation) if not isinstance(annotation, type) else annotation.__name__
    return (text.replace("typing.", "").replace("crawler.config.", "")
            .replace("<class '", "").replace("'>", "").replace("NoneType", "None"))


def _doc_rows(model: type[BaseModel], prefix: str, out: list[tuple[str, str, str, str]],
              nested: list[tuple[str, type[BaseModel]]]) -> None:
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        key = f"{prefix}{field.alias or name}"
        ann = field.annotation
        inner = getattr(ann, "__args__", None)
        item = inner[0] if inner and len(inner) == 1 else None
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            nested.append((key, ann))
            continue
        if isinstance(item, type) and issubclass(item, BaseModel):
            nested.append((f"{key}[]", item))
            out.append((key, f"list of {item.__name__}", "[]", field.description or ""))
            continue
        if field.is_required():
            default = "(required)"
        elif field.default_factory is not None:
            default = repr(field.default_factory())
        else:
            default = repr(field.default)
        out.append((key, _type_name(ann), default, field.description or ""))


def configuration_reference() -> str:
    """Markdown reference of every config.yaml key, from the pydantic model itself."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from `crawler/config.py` by `nianbao docs`; do not edit by hand",
        "(a test fails when this file and the model disagree).",
        "",
        "Every key is optional unless marked (required). Unknown keys are errors, reported with",
        "their full path (for example `sites[0].start_urll: unknown key`).",
        "",
    ]
    queue: list[tuple[str, type[BaseModel]]] = [("", Config)]
    while queue:
        prefix, model = queue.pop(0)
        rows: list[tuple[str, str, str, str]] = []
        nested: list[tuple[str, type[BaseModel]]] = []
        _doc_rows(model, f"{prefix}." if prefix else "", rows, nested)
        title = prefix or "top level"
        lines += [f"## `{title}`", ""]
        if model.__doc__ and model is not Config:
            lines += [model.__doc__.strip(), ""]
        if rows:
            lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
            lines += [f"| `{k}` | {t.replace('|', '&#124;')} | `{d}` | {m} |" for k, t, d, m in rows]
            lines.append("")
        queue.extend(nested)
    return "\n".join(lines)
