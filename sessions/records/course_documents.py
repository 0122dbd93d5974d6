"""The discharge summary and the referral letter of a course of care as readable PDFs (issue
18.4), built from one summary (`course_selectors.course_summary`) with `practice.pdf.Document`."""

from __future__ import annotations

from typing import Any

from practice.pdf import Document

REASONS = {
    "goals_met": "Goals met",
    "plateau": "Plateau",
    "referred": "Referred",
    "client_choice": "Client's choice",
}


def _regions(summary: dict[str, Any]) -> str:
    return ", ".join(
        f"{r.get('region', '?')} ({r['side']})" if r.get("side") else r.get("region", "?")
        for r in summary["complaint"]["regions"]
    )


def _header(document: Document, summary: dict[str, Any]) -> None:
    document.fields(
        [
            ("Client", summary["client"]["name"]),
            (
                "Complaint",
                f"{_regions(summary)} back pain, onset {summary['complaint']['onset_date']}",
            ),
            ("Course", f"{summary['start_date']} to {summary['end_date'] or 'ongoing'}"),
            (
                "Visits attended",
                f"{summary['visits_attended']} of {summary['visits_planned']} planned",
            ),
            ("Goals", ", ".join(g.replace("_", " ") for g in summary["goals"]) or "-"),
        ]
    )


def _outcomes(document: Document, summary: dict[str, Any]) -> None:
    document.heading("Outcome measures (baseline -> final)")
    rows = [
        (
            row["instrument"].upper(),
            f"{row['baseline']:g}",
            f"{row['final']:g}",
            f"{row['improvement']:+g}",
            f"{row['mcid']:g}",
            row["verdict"],
        )
        for row in summary["instruments"]
    ]
    if rows:
        document.table(
            ("Instrument", "Baseline", "Final", "Change", "MCID", "Verdict"),
            rows,
            align_right=(1, 2, 3, 4),
        )
    else:
        document.paragraph("No outcome measures were recorded.")


def discharge_summary_pdf(summary: dict[str, Any]) -> bytes:
    title = "Interim course summary" if summary["interim"] else "Discharge summary"
    document = Document(title=title, issuer_lines=[summary["practice"]])
    _header(document, summary)
    if summary["discharge_reason"]:
        document.fields([("Discharge reason", REASONS[summary["discharge_reason"]])])
    _outcomes(document, summary)
    document.heading("Techniques delivered (signed notes)")
    if summary["techniques"]:
        document.table(
            ("Technique", "Visits", "Minutes"),
            [(t["name"], t["visits"], t["minutes"]) for t in summary["techniques"]],
            align_right=(1, 2),
        )
    else:
        document.paragraph("No signed notes record delivered techniques.")
    document.heading("Home care advice")
    document.paragraph(summary["home_care"] or "None recorded.")
    if summary["discharge_notes"]:
        document.heading("Notes")
        document.paragraph(summary["discharge_notes"])
    return document.render()


def referral_letter_pdf(summary: dict[str, Any]) -> bytes:
    """The same data, addressed to a clinician, with why the client is referred (red flags, the
    response review). A massage therapist does not diagnose (DOMAIN.md 1): it says what was seen."""
    document = Document(title="Referral letter", issuer_lines=[summary["practice"]])
    document.paragraph(
        "Dear colleague, I am referring the client below for your assessment. A summary of "
        "their course of massage therapy for back pain follows."
    )
    _header(document, summary)
    document.heading("Reason for referral")
    for reason in summary["referral_reasons"] or ["At the therapist's clinical judgement."]:
        document.paragraph(f"- {reason}")
    _outcomes(document, summary)
    if summary["techniques"]:
        document.heading("Treatment given")
        document.paragraph(
            ", ".join(f"{t['name']} ({t['visits']} visits)" for t in summary["techniques"])
        )
    document.paragraph("Kind regards,")
    return document.render()
