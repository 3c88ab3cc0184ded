"""Property: any valid report (random numbers, consistent or not; template 2021 or 2019; random agency
and year), rendered to HTML, DOCX or PDF, parses back to exactly the numbers it was printed with.

What is printed comes from the official layouts (tests/fixtures/layouts), never from the parser's
vocabulary, and each example prints a random set of the real label variants seen in the seeds and the
research (tests/layouts.py): a label the parser does not know fails here."""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import layouts
import render_seeds
from crawler.demo import render
from crawler.demo.spec import ReportSpec
from crawler.parsing import parse_bytes
from storage.models import TABLE2_LAYOUT, TABLE3_COLUMNS, TABLE3_ROWS, TABLE4_COLUMNS, TABLE4_GROUPS, ParseStatus

REGIONS = ("东风区", "市中区", "伊美区", "互助县", "北京市大兴区", "青岛市崂山区", "南宁市", "龙泉驿区", "镇雄县",
           "浙江省", "海淀区", "黄浦区", "涪陵区", "成都市")
DEPARTMENTS = ("卫生健康局", "卫生健康委员会", "教育局", "人民政府办公室", "自然资源和规划局", "市场监督管理局",
               "生态环境局", "住房和城乡建设局", "财政局", "人民政府", "交通运输局", "民政局")
COUNTS = st.integers(min_value=0, max_value=99999)
FEES = st.one_of(st.integers(min_value=0, max_value=9999),
                 st.integers(min_value=0, max_value=999999).map(lambda n: round(n / 100, 2)))


@st.composite
def specs(draw, template: str | None = None) -> ReportSpec:
    template = template or draw(st.sampled_from(["2021", "2019"]))
    agency = draw(st.sampled_from(REGIONS)) + draw(st.sampled_from(DEPARTMENTS))
    year = draw(st.integers(min_value=2019, max_value=2020)) if template == "2019" else \
        draw(st.integers(min_value=2020, max_value=2025))
    table2: dict = {}
    for row, cols in TABLE2_LAYOUT[template].items():
        if cols is None:
            table2[row] = draw(FEES if row == "fees_wan_yuan" else COUNTS)
        else:
            table2[row] = {c: draw(COUNTS) for c in cols}
    if template == "2019":
        table2["procurement"]["amount"] = f"{draw(FEES)}万元"
    table3 = {r: [draw(COUNTS) for _ in TABLE3_COLUMNS] for r in TABLE3_ROWS[template]}
    if draw(st.booleans()):  # a consistent table: totals add up
        for r, vals in table3.items():
            vals[-1] = sum(vals[:-1])
    table4 = {g: {c: draw(COUNTS) for c in TABLE4_COLUMNS} for g in TABLE4_GROUPS}
    published = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=31).map(
        lambda d: f"{year + 1}-01-{d:02d}")))
    return ReportSpec(
        agency=agency, year=year, template=template,
        title=f"{agency}{year}年政府信息公开工作年度报告",
        published=published,
        preamble=[f"根据《中华人民共和国政府信息公开条例》规定，现公布{agency}{year}年度政府信息公开工作年度报告。"],
        sections={"overview": ["本机关认真贯彻落实政府信息公开工作要求，持续深化政务公开。"],
                  "problems": ["公开内容的深度和广度仍有不足，下一步将加强培训。"],
                  "other": ["无其他需要报告的事项。"]},
        table2=table2, table3=table3, table4=table4,
        signature=[agency] + ([_cn_date(published)] if published else []),
    )


def _cn_date(iso: str) -> str:
    y, m, d = (int(x) for x in iso.split("-"))
    return f"{y}年{m}月{d}日"


def _assert_round_trip(spec: ReportSpec, data: bytes, fmt: str) -> None:
    report = parse_bytes(data, path=f"random.{fmt}")
    assert report.status == ParseStatus.PARSED, (report.error, report.warnings)
    assert report.source.format == fmt
    assert (report.agency, report.year, report.template) == (spec.agency, spec.year, spec.template)
    assert report.title == spec.title
    assert (report.published.isoformat() if report.published else None) == spec.published
    assert report.table2 == spec.table2
    assert report.table3 == spec.table3
    assert report.table4 == spec.table4


VARIANTS = layouts.variant_choices()
#: A set of printed variants (one per labelled thing, the last drawn wins).
choices = st.lists(st.sampled_from(VARIANTS), max_size=8).map(dict)

_FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FAST
@given(spec=specs(), container=st.sampled_from(render_seeds.CONTAINERS),
       encoding=st.sampled_from(["utf-8", "gbk"]), choice=choices)
def test_html_round_trip(spec, container, encoding, choice):
    data = render.render_html_page(spec, encoding=encoding, container=container,
                                   layout=layouts.for_spec(spec, choice))
    _assert_round_trip(spec, data, "html")


@_FAST
@given(spec=specs(), choice=choices)
def test_docx_round_trip(spec, choice):
    data = render.render_docx(spec, layouts.for_spec(spec, choice))
    _assert_round_trip(spec, data, "docx")


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(specs(), min_size=3, max_size=3), picks=st.lists(choices, min_size=3, max_size=3))
def test_pdf_round_trip(batch, picks):
    """LibreOffice takes seconds per run: three reports per run, two runs."""
    pdfs = render_seeds.render_office(batch, "pdf", choices=picks)
    for spec, data in zip(batch, pdfs):
        _assert_round_trip(spec, data, "pdf")


@pytest.mark.parametrize("value,printed", [(0, "0"), (12, "12"), (1.5, "1.5"), (0.25, "0.25"), (None, "")])
def test_values_printed_as_given(value, printed):
    """The renderer prints what it is given (so the round trips above test the parser, not the printer)."""
    spec = render_seeds.seed_spec(render_seeds.seed_stems()[0])
    spec.table2 = dict(spec.table2, fees_wan_yuan=value)
    page = render.render_html_fragment(spec, layouts.for_spec(spec))
    fees_row = re.search(r"行政事业性收费.*?</tr>", page, re.S).group(0)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", fees_row, re.S)
    shown = re.sub(r"<[^>]+>", "", cells[-1]).replace("&nbsp;", "").strip()
    assert shown == printed


# -- never raises: arbitrary and damaged input always yields a Report with a status ------------

_NEVER_RAISES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_NEVER_RAISES
@given(data=st.binary(max_size=4096), ctype=st.sampled_from([None, "text/html", "application/pdf",
                                                              "application/msword", "text/plain; charset=gbk"]))
def test_arbitrary_bytes_never_raise(data, ctype):
    report = parse_bytes(data, url="http://127.0.0.1/x", content_type=ctype)
    assert isinstance(report.status, ParseStatus)
    assert report.source.sha256 and report.source.format


@pytest.fixture(scope="module")
def clean_docs(render_cache):
    spec = render_seeds.seed_spec(render_seeds.seed_stems()[0])
    (pdf,) = render_seeds.render_office([spec], "pdf", render_cache)
    printed = layouts.for_spec(spec)
    return {"html": render.render_html_page(spec, layout=printed), "docx": render.render_docx(spec, printed),
            "pdf": pdf}


@_NEVER_RAISES
@given(fmt=st.sampled_from(["html", "docx", "pdf"]), cut=st.floats(min_value=0.0, max_value=1.0),
       flips=st.lists(st.tuples(st.floats(min_value=0.0, max_value=0.999), st.integers(0, 255)), max_size=8))
def test_damaged_documents_never_raise(clean_docs, fmt, cut, flips):
    """Truncated and bit-flipped renderings: a status and an error naming the file, never an exception."""
    data = bytearray(clean_docs[fmt][: max(1, int(len(clean_docs[fmt]) * cut))])
    for pos, byte in flips:
        data[int(pos * len(data))] = byte
    report = parse_bytes(bytes(data), path=f"damaged.{fmt}")
    assert isinstance(report.status, ParseStatus)
    if report.status not in (ParseStatus.PARSED, ParseStatus.PARTIAL, ParseStatus.NOT_A_REPORT):
        assert report.error and "damaged." in report.error
