"""Reads of the records app that need more than a one-line queryset."""

from __future__ import annotations

from practice.rows import attach_rows
from sessions.records.models import Amendment, Note

# The columns a note list row is drawn from (NoteSerializer reads exactly these), and those of
# its amendments; a delivered item is read as `delivered_entry` writes it.
NOTE_ROW_FIELDS = (
    "id", "client_id", "appointment_id", "complaint_id", "author_id", "subjective", "objective",
    "assessment", "plan", "pain_before", "pain_after", "consent_confirmed", "shared_with_client",
    "signed_at", "delivered_snapshot", "created_at", "updated_at",
)  # fmt: skip
AMENDMENT_ROW_FIELDS = ("id", "kind", "text", "reason", "author_id", "created_at")
_ITEM_COLUMNS = {
    "id": "planitem_id",
    "technique": "planitem__technique_id",
    "technique_code": "planitem__technique__code",
    "technique_name": "planitem__technique__name",
    "region": "planitem__region",
    "side": "planitem__side",
    "minutes": "planitem__minutes",
    "pressure": "planitem__pressure",
}


def with_note_history(rows: list[dict]) -> list[dict]:
    """A page of note rows (`.values(*NOTE_ROW_FIELDS)`) with each one's amendments (oldest
    first) and delivered items (in plan order, as `delivered_entry` writes them), as rows too:
    two queries whatever the page's size, and no model built (issue 22.2)."""
    amendments = Amendment.objects.order_by("created_at", "id")
    attach_rows(rows, "amendment_list", amendments, "note_id", AMENDMENT_ROW_FIELDS)
    links = Note.delivered_items.through.objects.order_by("planitem__position", "planitem_id")
    attach_rows(rows, "delivered_list", links, "note_id", list(_ITEM_COLUMNS.values()))
    for row in rows:
        row["delivered_list"] = [
            {name: item[column] for name, column in _ITEM_COLUMNS.items()}
            for item in row["delivered_list"]
        ]
    return rows
