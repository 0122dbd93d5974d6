"""practice.pdf: every document renders to a real PDF whatever text the practice or client typed."""

from practice.pdf import Document, plain_text


def test_document_renders_a_pdf_with_every_block():
    data = (
        Document(title="Invoice INV-0001", issuer_lines=["Demo Massage", "1 High St"])
        .heading("Lines")
        .fields([("Client", "Zoë Ærø"), ("Date", "2026-12-05")])
        .table(["Item", "Amount"], [["Back massage — 60 min", "60.00"]], align_right=[1])
        .paragraph("Baseline → final: 6 → 2 (≥ 2 points is meaningful)")
        .render()
    )
    assert data.startswith(b"%PDF-")
    assert b"Invoice INV-0001" in data or len(data) > 500


def test_text_outside_latin1_is_printable():
    assert plain_text("6 → 2 ≤ 3 — ok 😀") == "6 -> 2 <= 3 - ok ?"
