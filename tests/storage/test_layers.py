"""Data flows one way (portal → document → report → findings → alert): storage, which every stage
writes through, imports nothing from the stages after it (monitor) or before it (crawler, spiders),
not even inside a function."""
from __future__ import annotations

from pathlib import Path

from import_scan import imported_packages as _imports

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM_OR_DOWNSTREAM = {"monitor", "crawler", "spiders"}


def test_storage_imports_no_monitor_crawler_or_spider_code():
    offenders = {p.name: sorted(_imports(p) & UPSTREAM_OR_DOWNSTREAM) for p in sorted((ROOT / "storage").glob("*.py"))}
    assert not {k: v for k, v in offenders.items() if v}


def test_the_scan_sees_a_function_level_import(tmp_path):
    p = tmp_path / "x.py"
    p.write_text("def f():\n    from monitor.compliance import matrix_for\n    import crawler.serve\n")
    assert _imports(p) == {"monitor", "crawler"}


def test_the_datasette_entry_point_is_the_serve_side_plugin():
    import tomllib

    entry = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["datasette"]["nianbao"]
    assert not entry.startswith("storage.")
    __import__(entry)
