"""Scanned reports read end to end: cells right, the seeds' own findings found, no false finding."""
from __future__ import annotations

from run import parse_item
from score import Score, score

#: The issue's bar: at least 99.5 % of the cells right over the corpus.
MIN_ACCURACY = 0.995


def test_scanned_corpus_reads_like_the_expected_files(ocr_corpus, capsys):
    total = Score()
    lines = []
    for item in ocr_corpus:
        report, findings = parse_item(item)
        assert report.status.value in ("parsed", "partial"), (item.files[0], report.status, report.error)
        assert report.source.format in ("pdf", "image", "html")
        s = score(report, findings, item.expected)
        total.add(s)
        lines.append(f"{item.stem} {item.kind:4} {item.dpi} dpi q{item.quality} {item.angle:+.2f}°: "
                     f"{s.right}/{s.cells} cells, corrections {len(s.corrections)}, "
                     f"missed {s.findings_missed}, false {len(s.findings_false)}")
        # an OCR reading carries its confidence into the model
        assert any(c.confidence is not None for c in report.cells)
        # every correction is logged with both readings and the confidence
        for msg in s.corrections:
            assert "OCR read" in msg and "corrected to" in msg and "confidence" in msg
        assert report.agency and report.year, item.files[0]
        assert set(report.sections) >= {"overview", "problems"}, (item.files[0], list(report.sections))
    figure = (f"OCR corpus subset: {total.right}/{total.cells} cells right = {total.accuracy:.4%}; "
              f"{len(total.corrections)} corrections logged; findings missed {total.findings_missed}; "
              f"false findings {len(total.findings_false)}")
    with capsys.disabled():
        print("\n" + "\n".join(lines) + "\n" + figure)
    assert total.accuracy >= MIN_ACCURACY, total.wrong
    assert not total.findings_missed
    assert not total.findings_false, total.findings_false
