"""Schema and versioned migrations of the nianbao database.

Each migration is a function applied once, in order, inside one transaction; the
``schema_migrations`` table records which ones ran.  An old database is upgraded in place when it is
opened (``migrate``).  Never edit a migration that has shipped: add a new one.
"""
from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timezone
from storage.models import SCALAR

log = logging.getLogger(__name__)

# -- version 1: documents, reports, cells, findings, runs, outbox -------------------------------
# Column types are declared where SQLite affinity helps; ``cells.value`` has no type on purpose:
# it holds integers, decimals (fees) and, for 2019 procurement amounts, text as printed, and an
# affinity would turn 12.0 into 12 or "12万元" into something else.
_V1 = """
CREATE TABLE sites (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    region TEXT,
    start_url TEXT
);
CREATE TABLE agencies (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL,
    norm TEXT NOT NULL,
    region TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT 'department'
);
CREATE INDEX idx_agencies_site_norm ON agencies(site, norm);
CREATE TABLE agency_aliases (
    id INTEGER PRIMARY KEY,
    agency_id INTEGER NOT NULL REFERENCES agencies(id),
    site TEXT NOT NULL DEFAULT '',
    alias TEXT NOT NULL,
    UNIQUE (site, alias)
);
CREATE INDEX idx_agency_aliases_agency ON agency_aliases(agency_id);
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    content BLOB NOT NULL
);
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
CREATE INDEX idx_documents_report_url ON documents(report_url);
CREATE INDEX idx_documents_site ON documents(site);
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
CREATE INDEX idx_document_versions_sha256 ON document_versions(sha256);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL DEFAULT 'running',
    stats TEXT,
    config TEXT,
    error TEXT
);
CREATE INDEX idx_runs_kind_started ON runs(kind, started);
CREATE TABLE fetches (
    id INTEGER PRIMARY KEY,
    run_id INTEGER REFERENCES runs(id),
    url TEXT NOT NULL,
    site TEXT,
    fetched_at TEXT NOT NULL,
    http_status INTEGER,
    fetch_status TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    sha256 TEXT,
    version_id INTEGER REFERENCES document_versions(id),
    error TEXT
);
CREATE INDEX idx_fetches_url ON fetches(url, id);
CREATE INDEX idx_fetches_run ON fetches(run_id);
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
CREATE INDEX idx_reports_agency_year ON reports(agency_id, year);
CREATE INDEX idx_reports_site_year ON reports(site, year);
CREATE INDEX idx_reports_year ON reports(year);
CREATE INDEX idx_reports_version ON reports(version_id);
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
CREATE INDEX idx_cells_table_row ON cells(table_name, row, "column");
CREATE TABLE warnings (
    report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    code TEXT NOT NULL,
    message TEXT,
    cell TEXT,
    PRIMARY KEY (report_id, seq)
);
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
CREATE INDEX idx_findings_report ON findings(report_id);
CREATE INDEX idx_findings_rule_site ON findings(rule, site);
CREATE INDEX idx_findings_agency_year ON findings(agency_id, year);
CREATE INDEX idx_findings_open ON findings(resolved_at, alerted);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    url TEXT,
    document_id INTEGER REFERENCES documents(id),
    version_id INTEGER REFERENCES document_versions(id),
    report_id INTEGER REFERENCES reports(id) ON DELETE SET NULL,
    run_id INTEGER REFERENCES runs(id),
    detail TEXT
);
CREATE INDEX idx_events_kind_at ON events(kind, at);
CREATE INDEX idx_events_document ON events(document_id);
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
CREATE INDEX idx_outbox_due ON outbox(status, next_attempt_at);
"""


def table2_wide_column(row: str, col: str) -> str:
    """The column of view table2_wide holding Table 二's cell (row, col): the row alone for a scalar."""
    return row if col == SCALAR else f"{row}_{col}"


# The wide views of versions 2 and 4, frozen as the text they were generated with (from the canonical
# keys of the vocabulary at the time, one column per Table 二 key, each name from table2_wide_column).
# A migration is never built from current code: a key added to the vocabulary later needs a NEW
# migration that recreates the views (tests/storage/test_schema_frozen.py says when).
_WIDE_VIEWS = (
    "\n"
    "CREATE VIEW table2_wide AS\n"
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
    "GROUP BY r.id;\n"
    "CREATE VIEW table3_wide AS\n"
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
    "GROUP BY r.id, c.row;\n"
    "CREATE VIEW table4_wide AS\n"
    "SELECT r.id AS report_id, r.agency, r.year, r.template, r.site, r.region, c.row AS \"group\", "
    "MAX(c.label) AS label, "
    "MAX(CASE WHEN c.\"column\" = 'upheld' THEN c.value END) AS upheld, "
    "MAX(CASE WHEN c.\"column\" = 'corrected' THEN c.value END) AS corrected, "
    "MAX(CASE WHEN c.\"column\" = 'other' THEN c.value END) AS other, "
    "MAX(CASE WHEN c.\"column\" = 'pending' THEN c.value END) AS pending, "
    "MAX(CASE WHEN c.\"column\" = 'total' THEN c.value END) AS total\n"
    "FROM reports r JOIN cells c ON c.report_id = r.id AND c.table_name = 'table4'\n"
    "GROUP BY r.id, c.row;\n"
)


# -- version 2: labels, wide views, full-text search --------------------------------------------
# FTS5 with the trigram tokenizer: CJK has no spaces, so unicode61 would index a whole sentence as
# one token.  Trigrams match any substring of 3+ characters; shorter queries use LIKE (Store.search).
_V2 = """
CREATE TABLE labels (
    template TEXT NOT NULL,
    table_name TEXT NOT NULL,
    row TEXT NOT NULL,
    "column" TEXT NOT NULL,
    row_label TEXT,
    column_label TEXT,
    PRIMARY KEY (template, table_name, row, "column")
);
CREATE TABLE report_text (
    report_id INTEGER PRIMARY KEY REFERENCES reports(id) ON DELETE CASCADE,
    agency TEXT,
    year INTEGER,
    title TEXT,
    text TEXT,
    sections TEXT
);
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
-- backfill from reports stored at version 1 (their text lived on the reports row)
INSERT INTO report_text(report_id, agency, year, title, text, sections)
    SELECT id, agency, year, title, text, sections FROM reports;
"""

# -- version 3: the text moved to report_text (copied by version 2); keep reports rows light -------
_V3 = """
ALTER TABLE reports DROP COLUMN text;
ALTER TABLE reports DROP COLUMN sections;
"""


# -- version 4: smaller cells and index (bench/storage_bench.py: cells and FTS were 3/4 of the file) --
# cells become WITHOUT ROWID (the primary key is the table: no second copy of every key), the
# (table,row,column) index goes (no pipeline lookup uses it: reports are read by id), and the FTS
# index drops `sections`, a second copy of `text`.
_V4 = """
DROP VIEW table2_wide;
DROP VIEW table3_wide;
DROP VIEW table4_wide;
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
DROP TABLE cells;
ALTER TABLE cells_v4 RENAME TO cells;
DROP TRIGGER report_text_ai;
DROP TRIGGER report_text_ad;
DROP TRIGGER report_text_au;
DROP TABLE report_text_fts;
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
INSERT INTO report_text_fts(report_text_fts) VALUES ('rebuild');
"""

# -- version 5: revised_events looks up a version's report_revised event ------------------------------
_V5 = """
CREATE INDEX idx_events_version ON events(version_id, kind);
"""

# -- version 6: a narrow list of reports to browse (the reports table has 25 columns) ---------------
_V6 = """
CREATE VIEW report_list AS
SELECT r.id AS report_id, r.agency, r.year, r.region, r.site, r.title, r.status, r.template, r.published,
       r.first_seen,
       (SELECT c.value FROM cells c WHERE c.report_id = r.id AND c.table_name = 'table3' AND c.row = 'new'
          AND c."column" = 'total') AS new_requests,
       (SELECT COUNT(*) FROM findings f WHERE f.report_id = r.id AND f.resolved_at IS NULL) AS open_findings,
       r.source_url
FROM reports r;
"""

# -- version 7: how sure a cell's reading is (OCR, digits split by arithmetic); NULL = read directly --
_V7 = """
ALTER TABLE cells ADD COLUMN confidence REAL;
"""

# -- version 8: alerts never silently lost: one row per channel, recipients that accepted, dropped,
# and findings waiting in the outbox (alerted only once sent) ---------------------------------------
_V8 = """
ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'email';
ALTER TABLE outbox ADD COLUMN markdown TEXT;
ALTER TABLE outbox ADD COLUMN delivered TEXT;
ALTER TABLE outbox ADD COLUMN dropped_at TEXT;
ALTER TABLE findings ADD COLUMN alert_queued_at TEXT;
UPDATE findings SET alerted = 0, alert_queued_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')
WHERE alerted = 1 AND fingerprint IN (
    SELECT j.value FROM outbox o, json_each(o.fingerprints) j WHERE o.status IN ('pending', 'failed', 'dead'));
UPDATE findings SET alert_queued_at = strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')
WHERE alerted = 1 AND alert_queued_at IS NULL;
"""

# -- version 9: an officer's verdict on a finding (确认 / 误报 / 已整改), with its history -------------
# One row per decision, never updated: the latest row of a fingerprint is the finding's state.
# ``basis`` is a digest of what the finding named when it was judged (its cells' printed values,
# or the report's bytes): when it changes, the verdict no longer applies and the finding reopens.
_V9 = """
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
CREATE INDEX idx_triage_fingerprint ON triage(fingerprint, id);
CREATE VIEW finding_triage AS
SELECT f.id AS finding_id, f.fingerprint, f.rule, f.severity, f.agency, f.year, f.report_id, f.site,
       COALESCE(CASE WHEN t.state = 'reopened' THEN 'open' ELSE t.state END, 'open') AS triage_state,
       t.note AS triage_note, t.actor AS triage_actor, t.at AS triage_at
FROM findings f
LEFT JOIN triage t ON t.id = (SELECT MAX(id) FROM triage WHERE fingerprint = f.fingerprint);
"""

# -- version 10: the parse stage apart from the crawl: versions wait `pending`, a job that dies is
# `parse_failed` with its reason, each parse names the parser version that made it ------------------
_V10 = """
ALTER TABLE document_versions ADD COLUMN parser_version TEXT;
ALTER TABLE document_versions ADD COLUMN parse_failure TEXT;
ALTER TABLE reports ADD COLUMN parser_version TEXT;
ALTER TABLE findings ADD COLUMN resolved_reason TEXT;
ALTER TABLE reports ADD COLUMN checks_due INTEGER NOT NULL DEFAULT 0;
UPDATE document_versions SET parse_status = 'pending' WHERE parse_status IS NULL;
CREATE INDEX idx_document_versions_parse ON document_versions(parse_status, parser_version);
"""

# -- version 11: the agency's name as printed (evidence) beside the qualified one (identity) --------
_V11 = """
ALTER TABLE reports ADD COLUMN agency_printed TEXT;
"""

# -- version 12: the full-text index as sqlite-utils makes it -------------------------------------
# The text of ``Table("report_text").enable_fts(["agency", "title", "text"], fts_version="FTS5",
# tokenize="trigram", create_triggers=True)`` (sqlite-utils 4.2), pasted: sqlite-utils and Datasette
# then find the index (``detect_fts``: content="report_text"), and the migration never changes with
# the library.  Same columns, tokenizer and rowids (report_id is report_text's rowid) as version 4's.
_V12 = """
DROP TRIGGER report_text_ai;
DROP TRIGGER report_text_ad;
DROP TRIGGER report_text_au;
DROP TABLE report_text_fts;
CREATE VIRTUAL TABLE "report_text_fts" USING FTS5 (
    "agency", "title", "text",
    tokenize='trigram',
    content="report_text"
);
INSERT INTO "report_text_fts" (rowid, "agency", "title", "text")
    SELECT rowid, "agency", "title", "text" FROM "report_text";
CREATE TRIGGER "report_text_ai" AFTER INSERT ON "report_text" BEGIN
  INSERT INTO "report_text_fts" (rowid, "agency", "title", "text") VALUES (new.rowid, new."agency", new."title", new."text");
END;
CREATE TRIGGER "report_text_ad" AFTER DELETE ON "report_text" BEGIN
  INSERT INTO "report_text_fts" ("report_text_fts", rowid, "agency", "title", "text") VALUES('delete', old.rowid, old."agency", old."title", old."text");
END;
CREATE TRIGGER "report_text_au" AFTER UPDATE ON "report_text" BEGIN
  INSERT INTO "report_text_fts" ("report_text_fts", rowid, "agency", "title", "text") VALUES('delete', old.rowid, old."agency", old."title", old."text");
  INSERT INTO "report_text_fts" (rowid, "agency", "title", "text") VALUES (new.rowid, new."agency", new."title", new."text");
END;
"""

MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "documents, reports, cells, findings, runs, outbox", _V1),
    (2, "labels, wide views, full-text search (trigram)", _V2 + _WIDE_VIEWS),
    (3, "report text lives in report_text only", _V3),
    (4, "cells WITHOUT ROWID, FTS without the sections copy", _V4 + _WIDE_VIEWS),
    (5, "index of events by version", _V5),
    (6, "report_list view", _V6),
    (7, "cells.confidence", _V7),
    (8, "outbox per channel, alerted once sent", _V8),
    (9, "triage of findings, with history", _V9),
    (10, "parse stage: pending versions, parse failures, parser versions", _V10),
    (11, "reports.agency_printed", _V11),
    (12, "full-text index as sqlite-utils enable_fts makes it", _V12),
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

    ``conn`` must be in autocommit mode (isolation_level=None) so that BEGIN/COMMIT are ours.
    """
    target = LATEST if upto is None else upto
    if current_version(conn) >= target:
        return []
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    applied: list[int] = []
    for version, name, script in MIGRATIONS:
        if version > target:
            break
        conn.execute("BEGIN IMMEDIATE")
        try:
            # re-read inside the write lock: another process may have migrated meanwhile
            if current_version(conn) >= version:
                conn.execute("ROLLBACK")
                continue
            for stmt in _split(script):
                conn.execute(stmt)
            conn.execute("INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)",
                         (version, name, datetime.now(timezone.utc).isoformat(timespec="seconds")))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("database migrated to version %d (%s)", version, name)
        applied.append(version)
    return applied
