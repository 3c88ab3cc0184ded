"""Render the five seed reports to HTML (one GBK-encoded), DOCX, PDF and one DOC.

The labels printed come from the official layouts in tests/fixtures/layouts (typed from the format
documents), not from the parser's vocabulary, and each seed prints a share of the real label variants
seen in the seeds and the research (tests/layouts.py); the renderer only lays the tables out.

    .venv/bin/python tests/render_seeds.py OUTDIR

writes OUTDIR/<seed>.<fmt>[...] and OUTDIR/manifest.json.  Used by tests/parsing (through
conftest.py) and bench/parse_bench.py.  LibreOffice conversions (PDF, DOC) are slow (~2 s per
run), so they are batched into one run per target format and cached by content hash when a
cache directory is given.
"""
from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import layouts  # noqa: E402  (tests/ is on the path: pytest's rootdir, or this script's directory)
from crawler.demo import layout as demo_layout  # noqa: E402
from crawler.demo import render  # noqa: E402
from crawler.demo.spec import ReportSpec  # noqa: E402
from crawler.parsing.extract.office import convert_many  # noqa: E402

SEEDS = ROOT / "tests" / "fixtures" / "seeds"
EXPECTED = ROOT / "tests" / "fixtures" / "expected"

#: Body container per seed (the CMSs vary); seed 002 is the GBK page.
CONTAINERS = ("TRS_Editor", "#zoom", "UCAP-CONTENT", "trs_editor_view", "#vsb_content")
GBK_SEED_INDEX = 2
#: The seed also rendered as a Word 97 .doc (LibreOffice round trip both ways: one is enough).
DOC_SEED_INDEX = 1


@dataclass
class Rendered:
    seed: str  # file stem, e.g. 001_d039ec262de9d514
    fmt: str  # html | docx | pdf | doc
    path: str
    expected: str  # path of the expected JSON
    content_type: str | None = None  # as a server would send it
    variant: str = ""  # e.g. "gbk"


def seed_stems() -> list[str]:
    return sorted(p.stem for p in SEEDS.glob("*.txt"))


def seed_spec(stem: str) -> ReportSpec:
    """A seed as a spec, its text split at the official layout's headings (not the parser's)."""
    template = json.loads((EXPECTED / f"{stem}.json").read_text("utf-8")).get("template", "2021")
    return render.spec_from_seed(SEEDS / f"{stem}.txt", EXPECTED / f"{stem}.json", layouts.printed(template))


def _render_py_hash() -> str:
    h = hashlib.sha256()
    for mod in (render, demo_layout):
        h.update(Path(mod.__file__).read_bytes())
    return h.hexdigest()[:16]


def seed_choices(index: int, count: int) -> dict:
    """The label variants seed number ``index`` (of ``count``) prints: every variant is printed by one seed."""
    return dict(layouts.variant_choices()[index::count])


def spec_key(spec: ReportSpec, fmt: str, choice: dict | None = None) -> str:
    """Content hash of what a rendering depends on: the spec, the format, the renderer's code, the labels."""
    blob = (json.dumps(asdict(spec), ensure_ascii=False, sort_keys=True, default=str) + fmt + _render_py_hash()
            + layouts.fixture_hash() + json.dumps(sorted((list(k), v) for k, v in (choice or {}).items()),
                                                   ensure_ascii=False))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:24]


def html_page(spec: ReportSpec, choice: dict | None = None, **kw) -> bytes:
    """render.render_html_page printing the official layout (tests/fixtures/layouts), never the vocabulary."""
    return render.render_html_page(spec, layout=layouts.for_spec(spec, choice), **kw)


def html_fragment(spec: ReportSpec, choice: dict | None = None) -> str:
    return render.render_html_fragment(spec, layouts.for_spec(spec, choice))


def docx(spec: ReportSpec, choice: dict | None = None) -> bytes:
    return render.render_docx(spec, layouts.for_spec(spec, choice))


def render_office(specs: list[ReportSpec], fmt: str, cache_dir: Path | None = None,
                  choices: list[dict] | None = None) -> list[bytes]:
    """PDF or DOC renderings of ``specs`` (printing the fixtures' labels, with ``choices``' variants),
    one LibreOffice run for all that are not cached."""
    choices = choices or [{} for _ in specs]
    keys = [spec_key(s, fmt, c) for s, c in zip(specs, choices)]
    out: dict[str, bytes] = {}
    todo: list[tuple[str, bytes]] = []
    for k, s, c in zip(keys, specs, choices):
        cached = cache_dir / f"{k}.{fmt}" if cache_dir else None
        if cached is not None and cached.exists():
            out[k] = cached.read_bytes()
        elif k not in dict(todo):
            todo.append((k, render.render_docx(s, layouts.for_spec(s, c))))
    if todo:
        opts = "MS Word 97" if fmt == "doc" else None
        done = convert_many(todo, src_ext="docx", to=fmt, filter_options=opts)
        for k, data in done.items():
            out[k] = data
            if cache_dir is not None:
                cache_dir.mkdir(parents=True, exist_ok=True)
                (cache_dir / f"{k}.{fmt}").write_bytes(data)
    return [out[k] for k in keys]


def chromium_path() -> str | None:
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def render_chromium_pdf(html: bytes, cache_dir: Path | None = None) -> bytes:
    """The page printed to PDF by headless Chromium: a second PDF producer, which draws borders
    and breaks tables across pages its own way (a row split in two, a spanning column's border
    missing on the next page)."""
    import subprocess
    import tempfile

    key = hashlib.sha256(html + b"chromium").hexdigest()[:24]
    cached = cache_dir / f"{key}.chromium.pdf" if cache_dir else None
    if cached is not None and cached.exists():
        return cached.read_bytes()
    exe = chromium_path()
    if exe is None:
        raise RuntimeError("chromium is not installed")
    with tempfile.TemporaryDirectory(prefix="nianbao-chromium-") as tmp:
        src, out = Path(tmp) / "page.html", Path(tmp) / "page.pdf"
        src.write_bytes(html)
        subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp}/profile",
                        "--no-pdf-header-footer", f"--print-to-pdf={out}", src.as_uri()],
                       capture_output=True, timeout=120, check=False)
        if not out.exists():
            raise RuntimeError("chromium printed no PDF")
        data = out.read_bytes()
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(data)
    return data


def render_corpus(outdir: str | Path, *, cache_dir: str | Path | None = None,
                  formats: tuple[str, ...] = ("html", "docx", "pdf", "doc")) -> list[Rendered]:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    cache = Path(cache_dir) if cache_dir else None
    stems = seed_stems()
    specs = [seed_spec(s) for s in stems]
    choices = [seed_choices(i, len(stems)) for i in range(len(stems))]
    items: list[Rendered] = []
    for i, (stem, spec) in enumerate(zip(stems, specs)):
        exp = str(EXPECTED / f"{stem}.json")
        printed = layouts.for_spec(spec, choices[i])
        if "html" in formats:
            container = CONTAINERS[i % len(CONTAINERS)]
            if i == GBK_SEED_INDEX:
                data = render.render_html_page(spec, encoding="gbk", container=container, layout=printed)
                ctype, variant = "text/html", "gbk"  # no charset in the header: the meta tells
            else:
                data = render.render_html_page(spec, container=container, layout=printed)
                ctype, variant = "text/html; charset=utf-8", ""
            p = outdir / f"{stem}.html"
            p.write_bytes(data)
            items.append(Rendered(stem, "html", str(p), exp, ctype, variant))
        if "docx" in formats:
            p = outdir / f"{stem}.docx"
            p.write_bytes(render.render_docx(spec, printed))
            items.append(Rendered(stem, "docx", str(p), exp))
    if "pdf" in formats:
        for stem, data in zip(stems, render_office(specs, "pdf", cache, choices)):
            p = outdir / f"{stem}.pdf"
            p.write_bytes(data)
            items.append(Rendered(stem, "pdf", str(p), str(EXPECTED / f"{stem}.json")))
    if "doc" in formats:
        stem = stems[DOC_SEED_INDEX]
        (data,) = render_office([specs[DOC_SEED_INDEX]], "doc", cache, [choices[DOC_SEED_INDEX]])
        p = outdir / f"{stem}.doc"
        p.write_bytes(data)
        items.append(Rendered(stem, "doc", str(p), str(EXPECTED / f"{stem}.json")))
    (outdir / "manifest.json").write_text(json.dumps([asdict(r) for r in items], ensure_ascii=False, indent=1),
                                          "utf-8")
    return items


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    items = render_corpus(argv[0])
    for r in items:
        print(f"{r.fmt:5} {r.variant:4} {r.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
