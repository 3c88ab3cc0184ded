"""Issue 10 item 7 (second half): the demo's seed texts ship with the package; the product never reads tests/."""
from __future__ import annotations

import re
from pathlib import Path

from crawler.demo import portal as demo_portal

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("crawler", "spiders", "storage", "monitor")


def test_the_demo_reads_its_seeds_from_the_package():
    data = Path(demo_portal.__file__).resolve().parent / "data"
    assert demo_portal.DEFAULT_SEED_DIR == data / "seeds"
    seeds = sorted(p.name for p in (data / "seeds").glob("*.txt"))
    assert len(seeds) == 5
    # the package's copy is the tests' copy (both taken from the project's seeds, never edited)
    for name in seeds:
        assert (data / "seeds" / name).read_bytes() == (ROOT / "tests" / "fixtures" / "seeds" / name).read_bytes()
        stem = name.removesuffix(".txt")
        assert (data / "expected" / f"{stem}.json").read_bytes() == \
            (ROOT / "tests" / "fixtures" / "expected" / f"{stem}.json").read_bytes()
    portal = demo_portal.DemoPortal()
    assert {p.seed for p in portal.reports if p.seed} == {"000", "001", "002", "003", "004"}


def test_no_product_module_names_the_tests_folder_as_a_path():
    pattern = re.compile(r"""["']tests["']|["']tests/|/\s*["']tests["']""")
    offenders = []
    for pkg in PRODUCT:
        for path in (ROOT / pkg).rglob("*.py"):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


def test_pyproject_ships_the_demo_data():
    """The package-data patterns of crawler.demo match every seed and expected file (what a wheel carries)."""
    import tomllib

    conf = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = conf["tool"]["setuptools"]["package-data"]["crawler.demo"]
    base = ROOT / "crawler" / "demo"
    matched = {p.relative_to(base).as_posix() for pat in patterns for p in base.glob(pat)}
    assert matched == {p.relative_to(base).as_posix() for p in (base / "data").rglob("*") if p.is_file()}
    assert len(matched) == 12  # five seeds, their five expected files, the 2021 and 2019 layouts
