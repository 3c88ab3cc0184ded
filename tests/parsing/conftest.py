"""Shared fixtures of the parsing tests: the seed corpus rendered once per session.

The corpus prints the official layouts of tests/fixtures/layouts (tests/layouts.py), never the vocabulary.
LibreOffice renderings (PDF, DOC) take seconds, so they are cached by content hash (spec, format,
renderer code) in pytest's cache directory; any change to a spec or to render.py renders afresh.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

import render_seeds  # noqa: E402


@pytest.fixture(scope="session")
def render_cache(request, tmp_path_factory) -> Path:
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("nianbao-renders"))
    return tmp_path_factory.mktemp("renders")


@pytest.fixture(scope="session")
def seed_corpus(tmp_path_factory, render_cache) -> dict[tuple[str, str], render_seeds.Rendered]:
    """(seed stem, format) -> the rendering on disk."""
    items = render_seeds.render_corpus(tmp_path_factory.mktemp("corpus"), cache_dir=render_cache)
    return {(r.seed, r.fmt): r for r in items}
