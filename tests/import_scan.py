"""The top-level packages a Python file imports, read from its syntax tree (never by importing it).

Shared by the layering tests (tests/storage/test_layers.py: storage imports no stage;
tests/test_vocabulary.py: vocabulary imports nothing of ours).  Every import counts, at module level
or inside a function: ``import a.b``, ``from a.b import c`` (relative imports stay inside their
package and are not counted) and ``__import__("a.b")`` with a literal name.
"""
from __future__ import annotations

import ast
from pathlib import Path


def imported_packages(path: Path) -> set[str]:
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
