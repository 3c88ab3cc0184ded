"""Document -> storage: the crawl stage's one write (bytes and fetch facts, nothing parsed).

Both ``nianbao ingest`` (local files) and the crawler's Scrapy pipeline call ``ingest_document``.

- The bytes are stored first-class (content-addressed); a new version starts ``pending``.  The
  parse stage (crawler/parse_stage.py) reads pending versions later, in sandboxed worker processes,
  and the check stage (monitor/) runs after it: nothing a document contains can stall or kill the
  crawl, and a document is stored before anything tries to read it.
- Storing the same bytes again changes only when they were last seen: ingesting the same files
  twice stores nothing new, and parses nothing again.
"""
from __future__ import annotations

import logging
import mimetypes
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from storage.db import Store
from storage.models import Document

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    url: str
    document_id: int | None = None
    version_id: int | None = None
    skipped: bool = False  # same bytes as stored: nothing new
    is_new: bool = False
    revised: bool = False
    error: str | None = None  # why ingest failed (the document could not even be stored)


def ingest_document(store: Store, doc: Document, *, run_id: int | None = None, site: str | None = None) -> IngestResult:
    """Store one document version (pending for the parse stage).  Raises only when storage fails."""
    if site and not doc.site:
        doc.site = site
    saved = store.save_document(doc, run_id=run_id)
    return IngestResult(url=doc.url, document_id=saved.document_id, version_id=saved.version_id,
                        skipped=saved.unchanged, is_new=saved.is_new, revised=saved.revised)


def collect_paths(paths: Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """Files under the given paths (directories recursed, hidden files skipped), sorted; and errors."""
    files: list[Path] = []
    errors: list[str] = []
    for p in map(Path, paths):
        if p.is_dir():
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files.extend(Path(root) / n for n in sorted(names) if not n.startswith("."))
        elif p.is_file():
            files.append(p)
        else:
            errors.append(f"{p}: no such file or directory")
    return files, errors


def document_from_path(path: Path, *, site: str | None = None) -> Document:
    """A local file as a Document: file:// URL, and its modification time as the time seen
    (so that ingesting an unchanged file again writes the same values)."""
    st = path.stat()
    ctype, _ = mimetypes.guess_type(path.name)
    return Document(url=path.resolve().as_uri(), content=path.read_bytes(), content_type=ctype,
                    fetched_at=datetime.fromtimestamp(int(st.st_mtime), timezone.utc), site=site)


def ingest_paths(store: Store, paths: Iterable[str | Path], *, run_id: int | None = None, site: str | None = None,
                 progress: bool = False) -> tuple[list[IngestResult], list[str]]:
    """Store local files (directories recursed) as pending versions.  Returns the results and the
    paths that failed.  Parsing is the parse stage's (``nianbao ingest`` runs it next)."""
    files, errors = collect_paths(paths)
    results: list[IngestResult] = []
    iterator: Iterable[Path] = files
    if progress:
        from tqdm import tqdm
        iterator = tqdm(files, desc="store", unit="file", disable=len(files) < 20)
    for path in iterator:
        try:
            doc = document_from_path(path, site=site)
        except OSError as e:
            errors.append(f"{path}: cannot read: {e.strerror or e}")
            continue
        try:
            results.append(ingest_document(store, doc, run_id=run_id, site=site))
        except Exception as e:  # storage failure (disk full, locked): report it, keep going
            log.exception("%s: ingest failed", path)
            errors.append(f"{path}: {type(e).__name__}: {e}")
    return results, errors
