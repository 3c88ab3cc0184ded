"""A database created at schema version 1 is upgraded in place, its data kept and made searchable."""
from __future__ import annotations

import sqlite3

from storage import schema
from storage.db import Store


def test_version_1_database_is_migrated(tmp_path):
    path = tmp_path / "old.db"
    old = Store(path, migrate_to=1)
    assert old.schema_version == 1
    # data as version 1 stored it: the report's text on the reports row, no report_text table
    v = old.conn  # raw SQL, as an old release would have written
    v.execute("INSERT INTO blobs VALUES ('abc', 3, x'616263')")
    v.execute("INSERT INTO documents(id, url, first_seen, last_seen, latest_version_id) "
              "VALUES (1, 'http://x.gov.cn/r.html', '2024-01-20T00:00:00+00:00', '2024-01-20T00:00:00+00:00', 1)")
    v.execute("INSERT INTO document_versions(id, document_id, sha256, size, first_seen, last_seen, parse_status) "
              "VALUES (1, 1, 'abc', 3, '2024-01-20T00:00:00+00:00', '2024-01-20T00:00:00+00:00', 'parsed')")
    v.execute("INSERT INTO reports(id, report_url, agency, year, template, first_seen, status, version_id, document_id, "
              "source_url, text, sections) VALUES (1, 'http://x.gov.cn/r.html', '大兴区卫生健康委', 2023, '2021', "
              "'2024-01-20T00:00:00+00:00', 'parsed', 1, 1, 'http://x.gov.cn/r.html', "
              "'本年度共收到政府信息公开申请12件', '{\"overview\": \"总体情况良好\"}')")
    v.execute("INSERT INTO cells VALUES (1, 'table3', 'new', 'total', 12, '12', 'NUMERIC', '一、本年新收')")
    old.close()
    assert "report_text" not in {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}

    new = Store(path)
    assert new.schema_version == schema.LATEST == len(schema.MIGRATIONS)
    applied = [r[0] for r in new.conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert applied == list(range(1, schema.LATEST + 1))
    report = new.load_report(1)
    assert report.text == "本年度共收到政府信息公开申请12件" and report.sections == {"overview": "总体情况良好"}
    assert report.value("table3", "new", "total") == 12
    cols = {r[1] for r in new.conn.execute("PRAGMA table_info(reports)")}
    assert "text" not in cols and "agency" in cols
    assert [r["report_id"] for r in new.search("政府信息公开申请")] == [1]
    assert new.conn.execute("SELECT total FROM table3_wide WHERE report_id = 1 AND row = 'new'").fetchone()[0] == 12
    assert new.integrity_check() == "ok"
    # version 4: cells keyed by their primary key alone (no rowid copy)
    import pytest
    with pytest.raises(sqlite3.OperationalError):
        new.conn.execute("SELECT rowid FROM cells")
    new.close()
    # opening again applies nothing
    again = Store(path)
    assert schema.migrate(again.conn) == [] and again.schema_version == schema.LATEST
    again.close()


def test_migration_failure_leaves_previous_version(tmp_path, monkeypatch):
    path = tmp_path / "x.db"
    Store(path, migrate_to=1).close()
    broken = list(schema.MIGRATIONS)
    v2 = schema.MIGRATIONS[1][2]

    def v2_then_a_clash(db):  # version 2, then a statement that fails: nothing of version 2 may stay
        v2(db)
        db.execute("CREATE TABLE labels (x)")

    broken[1] = (2, "broken", v2_then_a_clash)
    monkeypatch.setattr(schema, "MIGRATIONS", broken)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        schema.migrate(conn)
    except sqlite3.OperationalError:
        pass
    else:
        raise AssertionError("the broken migration should fail")
    assert schema.current_version(conn) == 1
    assert "report_text" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
