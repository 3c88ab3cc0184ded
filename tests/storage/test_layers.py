"""Data flows one way (portal → document → report → findings → alert): storage, which every stage
writes through, imports nothing from the stages after it (monitor) or before it (crawler, spiders),
not even inside a function."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM_OR_DOWNSTREAM = {"monitor", "crawler", "spiders"}


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__" and node.args \
                and isinstance(node.args[0], ast.Constant):
            out.add(str(node.args[0].value).split(".")[0])
    return out


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
