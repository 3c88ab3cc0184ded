"""Schema and versioned migrations of the nianbao database.

Each migration is a function of a ``sqlite_utils.Database`` applied once, in order, inside one
transaction; the ``schema_migrations`` table records which ones ran.  An old database is upgraded in
place when it is opened (``migrate``).  Never edit a migration that has shipped: add a new one.

A migration is frozen: a straight list of sqlite-utils calls (``create_table``, ``create_index``,
``add_column``, ``create_view``, ``enable_fts``, ``drop``, ``rename_table``) with literal arguments,
and SQL text (``_sql``) only where sqlite-utils cannot say it, each such place saying what it lacks.
Nothing in a migration is computed from the current code (no model, no vocabulary):
tests/storage/test_schema_frozen.py checks that, and that every version gives the schema existing
databases have (columns, keys, indexes, views and their rows, triggers, full-text config).
"""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone

import sqlite_utils
from sqlite_utils.db import ForeignKey

from storage.models import SCALAR

log = logging.getLogger(__name__)


def _sql(db: sqlite_utils.Database, script: str) -> None:
    """Run frozen SQL text, statement by statement, inside the migration's transaction."""
    for stmt in _split(script):
        db.execute(stmt)


# -- version 1: documents, reports, cells, findings, runs, outbox -------------------------------
# Column types are declared where SQLite affinity helps; ``cells.value`` has no type on purpose:
# it holds integers, decimals (fees) and, for 2019 procurement amounts, text as printed, and an
# affinity would turn 12.0 into 12 or "12万元" into something else.
# What create_table cannot say, and so stays SQL: a UNIQUE column constraint (a unique index in its
# place would differ from the databases that exist: another name, origin 'c' not 'u'), a
# multi-column UNIQUE constraint, a column without a type.

# sqlite-utils: no UNIQUE column constraint (name)
_V1_SITES = """
CREATE TABLE sites (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    region TEXT,
    start_url TEXT
);
"""
# sqlite-utils: no multi-column UNIQUE constraint (site, alias)
_V1_AGENCY_ALIASES = """
CREATE TABLE agency_aliases (
    id INTEGER PRIMARY KEY,
    agency_id INTEGER NOT NULL REFERENCES agencies(id),
    site TEXT NOT NULL DEFAULT '',
    alias TEXT NOT NULL,
    UNIQUE (site, alias)
);
"""
# sqlite-utils: no UNIQUE column constraint (url)
_V1_DOCUMENTS = """
CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    site TEXT,
    report_url TEXT,
    link_title TEXT,
    listing_date TEXT,
    page_date TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    latest_version_id INTEGER
);
"""
# sqlite-utils: no multi-column UNIQUE constraint (document_id, sha256)
_V1_DOCUMENT_VERSIONS = """
CREATE TABLE document_versions (
    id INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents(id),
    sha256 TEXT NOT NULL REFERENCES blobs(sha256),
    size INTEGER NOT NULL,
    content_type TEXT,
    http_status INTEGER,
    etag TEXT,
    last_modified TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    first_run_id INTEGER REFERENCES runs(id),
    parse_status TEXT,
    parse_error TEXT,
    format TEXT,
    UNIQUE (document_id, sha256)
);
"""
# sqlite-utils: no UNIQUE column constraint (report_url)
_V1_REPORTS = """
CREATE TABLE reports (
    id INTEGER PRIMARY KEY,
    report_url TEXT NOT NULL UNIQUE,
    agency_id INTEGER REFERENCES agencies(id),
    agency TEXT,
    site TEXT,
    region TEXT,
    year INTEGER,
    template TEXT,
    title TEXT,
    published TEXT,
    first_seen TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    warnings_count INTEGER NOT NULL DEFAULT 0,
    cells_count INTEGER NOT NULL DEFAULT 0,
    assessable_cells INTEGER NOT NULL DEFAULT 0,
    version_id INTEGER REFERENCES document_versions(id),
    document_id INTEGER REFERENCES documents(id),
    source_url TEXT,
    source_sha256 TEXT,
    format TEXT,
    period_start TEXT,
    period_end TEXT,
    sections TEXT,
    text TEXT
);
"""
# sqlite-utils: no column without a type (value, see above)
_V1_CELLS = """
CREATE TABLE cells (
    report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    table_name TEXT NOT NULL,
    row TEXT NOT NULL,
    "column" TEXT NOT NULL,
    value,
    raw TEXT,
    kind TEXT NOT NULL,
    label TEXT,
    PRIMARY KEY (report_id, table_name, row, "column")
);
"""
# sqlite-utils: no UNIQUE column constraint (fingerprint)
_V1_FINDINGS = """
CREATE TABLE findings (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL UNIQUE,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT,
    cells TEXT,
    suspect TEXT,
    numbers TEXT,
    subject TEXT,
    agency TEXT,
    agency_id INTEGER REFERENCES agencies(id),
    year INTEGER,
    report_id INTEGER REFERENCES reports(id) ON DELETE SET NULL,
    site TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    resolved_at TEXT,
    alerted INTEGER NOT NULL DEFAULT 0
);
"""
# sqlite-utils: no UNIQUE column constraint (key)
_V1_OUTBOX = """
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    site TEXT,
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL,
    text TEXT,
    html TEXT,
    fingerprints TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    next_attempt_at TEXT,
    last_error TEXT,
    sent_at TEXT,
    message_id TEXT
);
"""


def _v1(db: sqlite_utils.Database) -> None:
    _sql(db, _V1_SITES)
    db.create_table(
        "agencies",
        {"id": "INTEGER", "site": "TEXT", "name": "TEXT", "norm": "TEXT", "region": "TEXT", "kind": "TEXT"},
        pk="id", not_null=["site", "name", "norm", "region", "kind"],
        defaults={"site": "", "region": "", "kind": "department"})
    db["agencies"].create_index(["site", "norm"], index_name="idx_agencies_site_norm")
    _sql(db, _V1_AGENCY_ALIASES)
    db["agency_aliases"].create_index(["agency_id"], index_name="idx_agency_aliases_agency")
    db.create_table("blobs", {"sha256": "TEXT", "size": "INTEGER", "content": "BLOB"},
                    pk="sha256", not_null=["size", "content"])
    _sql(db, _V1_DOCUMENTS)
    db["documents"].create_index(["report_url"], index_name="idx_documents_report_url")
    db["documents"].create_index(["site"], index_name="idx_documents_site")
    _sql(db, _V1_DOCUMENT_VERSIONS)
    db["document_versions"].create_index(["sha256"], index_name="idx_document_versions_sha256")
    db.create_table(
        "runs",
        {"id": "INTEGER", "kind": "TEXT", "started": "TEXT", "finished": "TEXT", "status": "TEXT",
         "stats": "TEXT", "config": "TEXT", "error": "TEXT"},
        pk="id", not_null=["kind", "started", "status"], defaults={"status": "running"})
    db["runs"].create_index(["kind", "started"], index_name="idx_runs_kind_started")
    db.create_table(
        "fetches",
        {"id": "INTEGER", "run_id": "INTEGER", "url": "TEXT", "site": "TEXT", "fetched_at": "TEXT",
         "http_status": "INTEGER", "fetch_status": "TEXT", "etag": "TEXT", "last_modified": "TEXT",
         "sha256": "TEXT", "version_id": "INTEGER", "error": "TEXT"},
        pk="id", not_null=["url", "fetched_at", "fetch_status"],
        foreign_keys=[("run_id", "runs", "id"), ("version_id", "document_versions", "id")])
    db["fetches"].create_index(["url", "id"], index_name="idx_fetches_url")
    db["fetches"].create_index(["run_id"], index_name="idx_fetches_run")
    _sql(db, _V1_REPORTS)
    db["reports"].create_index(["agency_id", "year"], index_name="idx_reports_agency_year")
    db["reports"].create_index(["site", "year"], index_name="idx_reports_site_year")
    db["reports"].create_index(["year"], index_name="idx_reports_year")
    db["reports"].create_index(["version_id"], index_name="idx_reports_version")
    _sql(db, _V1_CELLS)
    db["cells"].create_index(["table_name", "row", "column"], index_name="idx_cells_table_row")
    db.create_table(
        "warnings",
        {"report_id": "INTEGER", "seq": "INTEGER", "code": "TEXT", "message": "TEXT", "cell": "TEXT"},
        pk=("report_id", "seq"), not_null=["report_id", "seq", "code"],
        foreign_keys=[ForeignKey("warnings", "report_id", "reports", "id", on_delete="CASCADE")])
    _sql(db, _V1_FINDINGS)
    db["findings"].create_index(["report_id"], index_name="idx_findings_report")
    db["findings"].create_index(["rule", "site"], index_name="idx_findings_rule_site")
    db["findings"].create_index(["agency_id", "year"], index_name="idx_findings_agency_year")
    db["findings"].create_index(["resolved_at", "alerted"], index_name="idx_findings_open")
    db.create_table(
        "events",
        {"id": "INTEGER", "kind": "TEXT", "at": "TEXT", "url": "TEXT", "document_id": "INTEGER",
         "version_id": "INTEGER", "report_id": "INTEGER", "run_id": "INTEGER", "detail": "TEXT"},
        pk="id", not_null=["kind", "at"],
        foreign_keys=[("document_id", "documents", "id"), ("version_id", "document_versions", "id"),
                      ForeignKey("events", "report_id", "reports", "id", on_delete="SET NULL"),
                      ("run_id", "runs", "id")])
    db["events"].create_index(["kind", "at"], index_name="idx_events_kind_at")
    db["events"].create_index(["document_id"], index_name="idx_events_document")
    _sql(db, _V1_OUTBOX)
    db["outbox"].create_index(["status", "next_attempt_at"], index_name="idx_outbox_due")


def table2_wide_column(row: str, col: str) -> str:
    """The column of view table2_wide holding Table 二's cell (row, col): the row alone for a scalar."""
    return row if col == SCALAR else f"{row}_{col}"


# The wide views of versions 2 and 4, frozen as the text they were generated with (from the canonical
# keys of the vocabulary at the time, one column per Table 二 key, each name from table2_wide_column).
# A migration is never built from current code: a key added to the vocabulary later needs a NEW
# migration that recreates the views (tests/storage/test_schema_frozen.py says when).
_TABLE2_WIDE = (
    "SELECT r.id AS report_id, r.agency, r.year, r.template, r.site, r.region, "
    "MAX(CASE WHEN c.row = 'regulations' AND c.\"column\" = 'issued' THEN c.value END) AS regulations_issued, "
    "MAX(CASE WHEN c.row = 'regulations' AND c.\"column\" = 'repealed' THEN c.value END) AS regulations_repealed, "
    "MAX(CASE WHEN c.row = 'regulations' AND c.\"column\" = 'in_force' THEN c.value END) AS regulations_in_force, "
    "MAX(CASE WHEN c.row = 'normative_documents' AND c.\"column\" = 'issued' THEN c.value END) AS normative_documents_issued, "
    "MAX(CASE WHEN c.row = 'normative_documents' AND c.\"column\" = 'repealed' THEN c.value END) AS normative_documents_repealed, "
    "MAX(CASE WHEN c.row = 'normative_documents' AND c.\"column\" = 'in_force' THEN c.value END) AS normative_documents_in_force, "
    "MAX(CASE WHEN c.row = 'licensing' AND c.\"column\" = 'value' THEN c.value END) AS licensing, "
    "MAX(CASE WHEN c.row = 'punishment' AND c.\"column\" = 'value' THEN c.value END) AS punishment, "
    "MAX(CASE WHEN c.row = 'coercion' AND c.\"column\" = 'value' THEN c.value END) AS coercion, "
    "MAX(CASE WHEN c.row = 'fees_wan_yuan' AND c.\"column\" = 'value' THEN c.value END) AS fees_wan_yuan, "
    "MAX(CASE WHEN c.row = 'regulations' AND c.\"column\" = 'made' THEN c.value END) AS regulations_made, "
    "MAX(CASE WHEN c.row = 'regulations' AND c.\"column\" = 'published' THEN c.value END) AS regulations_published, "
    "MAX(CASE WHEN c.row = 'regulations' AND c.\"column\" = 'public_total' THEN c.value END) AS regulations_public_total, "
    "MAX(CASE WHEN c.row = 'normative_documents' AND c.\"column\" = 'made' THEN c.value END) AS normative_documents_made, "
    "MAX(CASE WHEN c.row = 'normative_documents' AND c.\"column\" = 'published' THEN c.value END) AS normative_documents_published, "
    "MAX(CASE WHEN c.row = 'normative_documents' AND c.\"column\" = 'public_total' THEN c.value END) AS normative_documents_public_total, "
    "MAX(CASE WHEN c.row = 'licensing' AND c.\"column\" = 'previous_items' THEN c.value END) AS licensing_previous_items, "
    "MAX(CASE WHEN c.row = 'licensing' AND c.\"column\" = 'change' THEN c.value END) AS licensing_change, "
    "MAX(CASE WHEN c.row = 'licensing' AND c.\"column\" = 'decisions' THEN c.value END) AS licensing_decisions, "
    "MAX(CASE WHEN c.row = 'other_external_services' AND c.\"column\" = 'previous_items' THEN c.value END) AS other_external_services_previous_items, "
    "MAX(CASE WHEN c.row = 'other_external_services' AND c.\"column\" = 'change' THEN c.value END) AS other_external_services_change, "
    "MAX(CASE WHEN c.row = 'other_external_services' AND c.\"column\" = 'decisions' THEN c.value END) AS other_external_services_decisions, "
    "MAX(CASE WHEN c.row = 'punishment' AND c.\"column\" = 'previous_items' THEN c.value END) AS punishment_previous_items, "
    "MAX(CASE WHEN c.row = 'punishment' AND c.\"column\" = 'change' THEN c.value END) AS punishment_change, "
    "MAX(CASE WHEN c.row = 'punishment' AND c.\"column\" = 'decisions' THEN c.value END) AS punishment_decisions, "
    "MAX(CASE WHEN c.row = 'coercion' AND c.\"column\" = 'previous_items' THEN c.value END) AS coercion_previous_items, "
    "MAX(CASE WHEN c.row = 'coercion' AND c.\"column\" = 'change' THEN c.value END) AS coercion_change, "
    "MAX(CASE WHEN c.row = 'coercion' AND c.\"column\" = 'decisions' THEN c.value END) AS coercion_decisions, "
    "MAX(CASE WHEN c.row = 'fees' AND c.\"column\" = 'previous_items' THEN c.value END) AS fees_previous_items, "
    "MAX(CASE WHEN c.row = 'fees' AND c.\"column\" = 'change' THEN c.value END) AS fees_change, "
    "MAX(CASE WHEN c.row = 'procurement' AND c.\"column\" = 'projects' THEN c.value END) AS procurement_projects, "
    "MAX(CASE WHEN c.row = 'procurement' AND c.\"column\" = 'amount' THEN c.value END) AS procurement_amount\n"
    "FROM reports r JOIN cells c ON c.report_id = r.id AND c.table_name = 'table2'\n"
    "GROUP BY r.id"
)

_TABLE3_WIDE = (
    "SELECT r.id AS report_id, r.agency, r.year, r.template, r.site, r.region, c.row, "
    "MAX(c.label) AS label, "
    "MAX(CASE WHEN c.\"column\" = 'natural_person' THEN c.value END) AS natural_person, "
    "MAX(CASE WHEN c.\"column\" = 'commercial_enterprise' THEN c.value END) AS commercial_enterprise, "
    "MAX(CASE WHEN c.\"column\" = 'research_institution' THEN c.value END) AS research_institution, "
    "MAX(CASE WHEN c.\"column\" = 'social_welfare_org' THEN c.value END) AS social_welfare_org, "
    "MAX(CASE WHEN c.\"column\" = 'legal_service_org' THEN c.value END) AS legal_service_org, "
    "MAX(CASE WHEN c.\"column\" = 'other_org' THEN c.value END) AS other_org, "
    "MAX(CASE WHEN c.\"column\" = 'total' THEN c.value END) AS total\n"
    "FROM reports r JOIN cells c ON c.report_id = r.id AND c.table_name = 'table3'\n"
    "GROUP BY r.id, c.row"
)

_TABLE4_WIDE = (
    "SELECT r.id AS report_id, r.agency, r.year, r.template, r.site, r.region, c.row AS \"group\", "
    "MAX(c.label) AS label, "
    "MAX(CASE WHEN c.\"column\" = 'upheld' THEN c.value END) AS upheld, "
    "MAX(CASE WHEN c.\"column\" = 'corrected' THEN c.value END) AS corrected, "
    "MAX(CASE WHEN c.\"column\" = 'other' THEN c.value END) AS other, "
    "MAX(CASE WHEN c.\"column\" = 'pending' THEN c.value END) AS pending, "
    "MAX(CASE WHEN c.\"column\" = 'total' THEN c.value END) AS total\n"
    "FROM reports r JOIN cells c ON c.report_id = r.id AND c.table_name = 'table4'\n"
    "GROUP BY r.id, c.row"
)


# -- version 2: labels, wide views, full-text search --------------------------------------------
# FTS5 with the trigram tokenizer: CJK has no spaces, so unicode61 would index a whole sentence as
# one token.  Trigrams match any substring of 3+ characters; shorter queries use LIKE (Store.search).
# sqlite-utils: enable_fts has no content_rowid option, and makes its own triggers (databases at
# versions 2 to 11 have this index and these triggers; version 12 moves to enable_fts's)
_V2_FTS = """
CREATE VIRTUAL TABLE report_text_fts USING fts5(
    agency, title, text, sections,
    content='report_text', content_rowid='report_id', tokenize='trigram'
);
CREATE TRIGGER report_text_ai AFTER INSERT ON report_text BEGIN
    INSERT INTO report_text_fts(rowid, agency, title, text, sections)
    VALUES (new.report_id, new.agency, new.title, new.text, new.sections);
END;
CREATE TRIGGER report_text_ad AFTER DELETE ON report_text BEGIN
    INSERT INTO report_text_fts(report_text_fts, rowid, agency, title, text, sections)
    VALUES ('delete', old.report_id, old.agency, old.title, old.text, old.sections);
END;
CREATE TRIGGER report_text_au AFTER UPDATE ON report_text BEGIN
    INSERT INTO report_text_fts(report_text_fts, rowid, agency, title, text, sections)
    VALUES ('delete', old.report_id, old.agency, old.title, old.text, old.sections);
    INSERT INTO report_text_fts(rowid, agency, title, text, sections)
    VALUES (new.report_id, new.agency, new.title, new.text, new.sections);
END;
"""
# sqlite-utils: no INSERT ... SELECT (the backfill from reports stored at version 1, whose text
# lived on the reports row)
_V2_BACKFILL = """
INSERT INTO report_text(report_id, agency, year, title, text, sections)
    SELECT id, agency, year, title, text, sections FROM reports;
"""


def _v2(db: sqlite_utils.Database) -> None:
    db.create_table(
        "labels", {"template": "TEXT", "table_name": "TEXT", "row": "TEXT", "column": "TEXT",
                   "row_label": "TEXT", "column_label": "TEXT"},
        pk=("template", "table_name", "row", "column"), not_null=["template", "table_name", "row", "column"])
    db.create_table(
        "report_text", {"report_id": "INTEGER", "agency": "TEXT", "year": "INTEGER", "title": "TEXT",
                        "text": "TEXT", "sections": "TEXT"},
        pk="report_id",
        foreign_keys=[ForeignKey("report_text", "report_id", "reports", "id", on_delete="CASCADE")])
    _sql(db, _V2_FTS)
    _sql(db, _V2_BACKFILL)
    db.create_view("table2_wide", _TABLE2_WIDE)
    db.create_view("table3_wide", _TABLE3_WIDE)
    db.create_view("table4_wide", _TABLE4_WIDE)


# -- version 3: the text moved to report_text (copied by version 2); keep reports rows light -------
# sqlite-utils: only transform(drop=...), which rebuilds the whole table (and refuses to inside a
# transaction: cells and report_text cascade from reports); ALTER TABLE DROP COLUMN does not
_V3 = """
ALTER TABLE reports DROP COLUMN text;
ALTER TABLE reports DROP COLUMN sections;
"""


def _v3(db: sqlite_utils.Database) -> None:
    _sql(db, _V3)


# -- version 4: smaller cells and index (bench/storage_bench.py: cells and FTS were 3/4 of the file) --
# cells become WITHOUT ROWID (the primary key is the table: no second copy of every key), the
# (table,row,column) index goes (no pipeline lookup uses it: reports are read by id), and the FTS
# index drops `sections`, a second copy of `text`.
# sqlite-utils: no WITHOUT ROWID table, no column without a type, no INSERT ... SELECT
_V4_CELLS = """
CREATE TABLE cells_v4 (
    report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    table_name TEXT NOT NULL,
    row TEXT NOT NULL,
    "column" TEXT NOT NULL,
    value,
    raw TEXT,
    kind TEXT NOT NULL,
    label TEXT,
    PRIMARY KEY (report_id, table_name, row, "column")
) WITHOUT ROWID;
INSERT INTO cells_v4 SELECT report_id, table_name, row, "column", value, raw, kind, label FROM cells;
"""
# sqlite-utils: no API drops a trigger (disable_fts does not find version 2's content='report_text')
_V4_DROP_TRIGGERS = """
DROP TRIGGER report_text_ai;
DROP TRIGGER report_text_ad;
DROP TRIGGER report_text_au;
"""
# sqlite-utils: enable_fts has no content_rowid option and makes its own triggers (as version 2)
_V4_FTS = """
CREATE VIRTUAL TABLE report_text_fts USING fts5(
    agency, title, text, content='report_text', content_rowid='report_id', tokenize='trigram'
);
CREATE TRIGGER report_text_ai AFTER INSERT ON report_text BEGIN
    INSERT INTO report_text_fts(rowid, agency, title, text) VALUES (new.report_id, new.agency, new.title, new.text);
END;
CREATE TRIGGER report_text_ad AFTER DELETE ON report_text BEGIN
    INSERT INTO report_text_fts(report_text_fts, rowid, agency, title, text)
    VALUES ('delete', old.report_id, old.agency, old.title, old.text);
END;
CREATE TRIGGER report_text_au AFTER UPDATE ON report_text BEGIN
    INSERT INTO report_text_fts(report_text_fts, rowid, agency, title, text)
    VALUES ('delete', old.report_id, old.agency, old.title, old.text);
    INSERT INTO report_text_fts(rowid, agency, title, text) VALUES (new.report_id, new.agency, new.title, new.text);
END;
"""


def _v4(db: sqlite_utils.Database) -> None:
    db.view("table2_wide").drop()
    db.view("table3_wide").drop()
    db.view("table4_wide").drop()
    _sql(db, _V4_CELLS)
    db["cells"].drop()
    db.rename_table("cells_v4", "cells")
    _sql(db, _V4_DROP_TRIGGERS)
    db["report_text_fts"].drop()
    _sql(db, _V4_FTS)
    db["report_text_fts"].rebuild_fts()
    db.create_view("table2_wide", _TABLE2_WIDE)
    db.create_view("table3_wide", _TABLE3_WIDE)
    db.create_view("table4_wide", _TABLE4_WIDE)


# -- version 5: revised_events looks up a version's report_revised event ------------------------------
def _v5(db: sqlite_utils.Database) -> None:
    db["events"].create_index(["version_id", "kind"], index_name="idx_events_version")


# -- version 6: a narrow list of reports to browse (the reports table has 25 columns) ---------------
_REPORT_LIST = """SELECT r.id AS report_id, r.agency, r.year, r.region, r.site, r.title, r.status, r.template, r.published,
       r.first_seen,
       (SELECT c.value FROM cells c WHERE c.report_id = r.id AND c.table_name = 'table3' AND c.row = 'new'
          AND c."column" = 'total') AS new_requests,
       (SELECT COUNT(*) FROM findings f WHERE f.report_id = r.id AND f.resolved_at IS NULL) AS open_findings,
       r.source_url
FROM reports r"""


def _v6(db: sqlite_utils.Database) -> None:
    db.create_view("report_list", _REPORT_LIST)


# -- version 7: how sure a cell's reading is (OCR, digits split by arithmetic); NULL = read directly --
def _v7(db: sqlite_utils.Database) -> None:
    db["cells"].add_column("confidence", "REAL")


# -- version 8: alerts never silently lost: one row per channel, recipients that accepted, dropped,
# and findings waiting in the outbox (alerted only once sent) ---------------------------------------
# sqlite-utils: update() changes rows by primary key only; these are conditional bulk UPDATEs
_V8_REQUEUE = """
UPDATE findings SET alerted = 0, alert_queued_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')
WHERE alerted = 1 AND fingerprint IN (
    SELECT j.value FROM outbox o, json_each(o.fingerprints) j WHERE o.status IN ('pending', 'failed', 'dead'));
UPDATE findings SET alert_queued_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')
WHERE alerted = 1 AND alert_queued_at IS NULL;
"""


def _v8(db: sqlite_utils.Database) -> None:
    db["outbox"].add_column("channel", "TEXT", not_null_default="email")
    db["outbox"].add_column("markdown", "TEXT")
    db["outbox"].add_column("delivered", "TEXT")
    db["outbox"].add_column("dropped_at", "TEXT")
    db["findings"].add_column("alert_queued_at", "TEXT")
    _sql(db, _V8_REQUEUE)


# -- version 9: an officer's verdict on a finding (确认 / 误报 / 已整改), with its history -------------
# One row per decision, never updated: the latest row of a fingerprint is the finding's state.
# ``basis`` is a digest of what the finding named when it was judged (its cells' printed values,
# or the report's bytes): when it changes, the verdict no longer applies and the finding reopens.
# sqlite-utils: create_table has no CHECK constraint (state)
_V9_TRIAGE = """
CREATE TABLE triage (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    finding_id INTEGER REFERENCES findings(id) ON DELETE SET NULL,
    state TEXT NOT NULL CHECK (state IN ('confirmed', 'dismissed', 'fixed', 'reopened')),
    note TEXT,
    actor TEXT NOT NULL,
    at TEXT NOT NULL,
    basis TEXT NOT NULL DEFAULT ''
);
"""
_FINDING_TRIAGE = """SELECT f.id AS finding_id, f.fingerprint, f.rule, f.severity, f.agency, f.year, f.report_id, f.site,
       COALESCE(CASE WHEN t.state = 'reopened' THEN 'open' ELSE t.state END, 'open') AS triage_state,
       t.note AS triage_note, t.actor AS triage_actor, t.at AS triage_at
FROM findings f
LEFT JOIN triage t ON t.id = (SELECT MAX(id) FROM triage WHERE fingerprint = f.fingerprint)"""


def _v9(db: sqlite_utils.Database) -> None:
    _sql(db, _V9_TRIAGE)
    db["triage"].create_index(["fingerprint", "id"], index_name="idx_triage_fingerprint")
    db.create_view("finding_triage", _FINDING_TRIAGE)


# -- version 10: the parse stage apart from the crawl: versions wait `pending`, a job that dies is
# `parse_failed` with its reason, each parse names the parser version that made it ------------------
# sqlite-utils: update() changes rows by primary key only; this is a conditional bulk UPDATE
_V10_PENDING = """
UPDATE document_versions SET parse_status = 'pending' WHERE parse_status IS NULL;
"""


def _v10(db: sqlite_utils.Database) -> None:
    db["document_versions"].add_column("parser_version", "TEXT")
    db["document_versions"].add_column("parse_failure", "TEXT")
    db["reports"].add_column("parser_version", "TEXT")
    db["findings"].add_column("resolved_reason", "TEXT")
    db["reports"].add_column("checks_due", "INTEGER", not_null_default=0)
    _sql(db, _V10_PENDING)
    db["document_versions"].create_index(["parse_status", "parser_version"],
                                         index_name="idx_document_versions_parse")


# -- version 11: the agency's name as printed (evidence) beside the qualified one (identity) --------
def _v11(db: sqlite_utils.Database) -> None:
    db["reports"].add_column("agency_printed", "TEXT")


# -- version 12: the full-text index as sqlite-utils makes it -------------------------------------
# enable_fts(["agency", "title", "text"], tokenize="trigram", create_triggers=True): sqlite-utils and
# Datasette then find the index (``detect_fts``: content="report_text").  Same columns, tokenizer and
# rowids (report_id is report_text's rowid) as version 4's.  The test of frozen migrations compares
# what it makes with the text sqlite-utils 4.2 made when this version shipped.
# sqlite-utils: no API drops a trigger (disable_fts does not find version 4's content='report_text')
_V12_DROP_TRIGGERS = """
DROP TRIGGER report_text_ai;
DROP TRIGGER report_text_ad;
DROP TRIGGER report_text_au;
"""


def _v12(db: sqlite_utils.Database) -> None:
    _sql(db, _V12_DROP_TRIGGERS)
    db["report_text_fts"].drop()
    db["report_text"].enable_fts(["agency", "title", "text"], fts_version="FTS5", tokenize="trigram",
                                 create_triggers=True)


Migration = Callable[[sqlite_utils.Database], None]

MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "documents, reports, cells, findings, runs, outbox", _v1),
    (2, "labels, wide views, full-text search (trigram)", _v2),
    (3, "report text lives in report_text only", _v3),
    (4, "cells WITHOUT ROWID, FTS without the sections copy", _v4),
    (5, "index of events by version", _v5),
    (6, "report_list view", _v6),
    (7, "cells.confidence", _v7),
    (8, "outbox per channel, alerted once sent", _v8),
    (9, "triage of findings, with history", _v9),
    (10, "parse stage: pending versions, parse failures, parser versions", _v10),
    (11, "reports.agency_printed", _v11),
    (12, "full-text index as sqlite-utils enable_fts makes it", _v12),
]
LATEST = MIGRATIONS[-1][0]


def _split(script: str) -> list[str]:
    """Split a script into statements (sqlite3.complete_statement handles triggers' inner ';')."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--") and not buf.strip():
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def current_version(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").fetchone()
    if not row:
        return 0
    return conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]


def migrate(conn: sqlite3.Connection, *, upto: int | None = None) -> list[int]:
    """Apply the pending migrations (each in its own transaction); returns the versions applied.

    ``conn`` must be in autocommit mode (isolation_level=None) so that BEGIN/COMMIT are ours; the
    migrations' sqlite-utils calls run inside that transaction (sqlite-utils joins an open one).
    """
    target = LATEST if upto is None else upto
    if current_version(conn) >= target:
        return []
    # no plugins, no recursive triggers (the schema's triggers are written for SQLite's default)
    db = sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    applied: list[int] = []
    for version, name, migration in MIGRATIONS:
        if version > target:
            break
        conn.execute("BEGIN IMMEDIATE")
        try:
            # re-read inside the write lock: another process may have migrated meanwhile
            if current_version(conn) >= version:
                conn.execute("ROLLBACK")
                continue
            migration(db)
            conn.execute("INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)",
                         (version, name, datetime.now(timezone.utc).isoformat(timespec="seconds")))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("database migrated to version %d (%s)", version, name)
        applied.append(version)
    return applied
