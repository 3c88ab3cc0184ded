"""docs/data-model.md, generated from a fresh database and the Datasette metadata, so it cannot drift."""
from __future__ import annotations

import tempfile
from pathlib import Path

from storage.db import Store
from storage.metadata import metadata


def data_model_reference() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "nianbao.db")
        try:
            objects = store._all(
                "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'report_text_fts%' ORDER BY type, name")
            columns = {o["name"]: store._all(f'PRAGMA table_info("{o["name"]}")') for o in objects}
            version = store.schema_version
        finally:
            store.close()
    tables = metadata("nianbao")["databases"]["nianbao"]["tables"]
    lines = [
        "# Data model",
        "",
        "Generated from a fresh database (schema version %d) and the Datasette metadata of" % version,
        "`storage/metadata.py` by `nianbao docs`; do not edit by hand (a test compares).",
        "",
        "Column names are the English keys of the canonical model (`storage/models.py`); the",
        "descriptions are the Chinese ones Datasette shows.",
        "",
    ]
    for o in objects:
        meta = tables.get(o["name"], {})
        title = meta.get("title", "")
        lines += [f"## `{o['name']}` ({o['type']})" + (f" — {title}" if title else ""), ""]
        if meta.get("description"):
            lines += [meta["description"], ""]
        described = meta.get("columns", {})
        lines += ["| column | type | meaning |", "|---|---|---|"]
        for c in columns[o["name"]]:
            lines.append(f"| `{c['name']}` | {c['type'] or ''} | {described.get(c['name'], '')} |")
        lines.append("")
    return "\n".join(lines)
