"""After a run: what the clients were told, checked against the database directly (psycopg, not the
app) and against the emails the worker wrote.

- every booking answered 201 is an appointment row (none lost), and no therapist has two live
  appointments overlapping (none duplicated);
- every appointment has exactly one `reminder` row (one channel per client: email), none missing,
  none duplicated;
- every reminder due by the end of the settle time went out, once: the worker's email files hold
  exactly one message per `sent` row of each address, and no due reminder is still pending;
- every note answered 201 is a note row.
"""

from __future__ import annotations

import email
import time
from collections import Counter
from pathlib import Path

import psycopg

PENDING = ("scheduled", "queued", "sending")


def due_pending(connection: psycopg.Connection) -> int:
    row = connection.execute(
        "SELECT count(*) FROM treatment_reminder "
        "WHERE kind = 'reminder' AND scheduled_for <= now() AND status = ANY(%s)",
        (list(PENDING),),
    ).fetchone()
    return row[0] if row else 0


def settle(connect, limit: float, say) -> float:
    """Wait (up to `limit` seconds) until no due reminder is pending: the beat dispatches every
    minute, and a row whose message a broker restart lost comes back when its 5-minute lease
    lapses. Returns the seconds waited."""
    started = time.monotonic()
    last_said = 0.0
    while True:
        with connect() as connection:
            pending = due_pending(connection)
        waited = time.monotonic() - started
        if pending == 0 or waited >= limit:
            return waited
        if waited - last_said >= 30:
            say(f"  settling: {pending} due reminders not sent yet ({waited:.0f}s)")
            last_said = waited
        time.sleep(2)


def emails_by_recipient(mail_dir: Path) -> Counter:
    """Messages Django's file backend wrote (one file per connection, messages separated by a
    line of 79 dashes), counted by their To: address."""
    counts: Counter = Counter()
    for path in mail_dir.glob("*.log"):
        for chunk in path.read_text(errors="replace").split("\n" + "-" * 79 + "\n"):
            if chunk.strip():
                message = email.message_from_string(chunk.strip("\n"))
                if message["To"]:
                    counts[message["To"].strip()] += 1
    return counts


def check(connection: psycopg.Connection, result, mail_dir: Path) -> dict:
    booked = set(result.booked)
    in_db = {row[0] for row in connection.execute("SELECT id FROM treatment_appointment")}
    double_booked = connection.execute(
        "SELECT count(*) FROM treatment_appointment a JOIN treatment_appointment b "
        "ON a.therapist_id = b.therapist_id AND a.id < b.id "
        "AND a.start < b.blocked_until AND b.start < a.blocked_until "
        "WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'"
    ).fetchone()[0]

    reminder_rows = dict(
        connection.execute(
            "SELECT appointment_id, count(*) FROM treatment_reminder "
            "WHERE kind = 'reminder' GROUP BY appointment_id"
        ).fetchall()
    )
    missing_reminders = sorted(a for a in in_db if reminder_rows.get(a, 0) == 0)
    duplicated_reminders = sorted(a for a in in_db if reminder_rows.get(a, 0) > 1)

    due = dict(
        connection.execute(
            "SELECT status, count(*) FROM treatment_reminder "
            "WHERE kind = 'reminder' AND scheduled_for <= now() GROUP BY status"
        ).fetchall()
    )
    sent_rows = Counter(
        dict(
            connection.execute(
                "SELECT c.email, count(*) FROM treatment_reminder r "
                "JOIN clients_client c ON c.id = r.client_id "
                "WHERE r.status = 'sent' GROUP BY c.email"
            ).fetchall()
        )
    )
    mails = emails_by_recipient(mail_dir)
    addresses = set(mails) | set(sent_rows)
    extra_emails = sum(max(0, mails[a] - sent_rows[a]) for a in addresses)
    missing_emails = sum(max(0, sent_rows[a] - mails[a]) for a in addresses)

    notes_in_db = {row[0] for row in connection.execute("SELECT id FROM treatment_note")}

    found = {
        "bookings_201": len(booked),
        "bookings_missing": sorted(booked - in_db)[:20],
        "bookings_missing_count": len(booked - in_db),
        "written_unconfirmed": len(in_db - booked),
        "unconfirmed_answers": len(result.unconfirmed),
        "double_booked_pairs": double_booked,
        "appointments_in_db": len(in_db),
        "reminder_rows_missing": len(missing_reminders),
        "reminder_rows_duplicated": len(duplicated_reminders),
        "reminders_due": sum(due.values()),
        "reminders_due_by_status": due,
        "reminders_due_pending": sum(due.get(status, 0) for status in PENDING),
        "emails_sent": sum(mails.values()),
        "emails_extra": extra_emails,
        "emails_missing": missing_emails,
        "notes_201": len(result.notes),
        "notes_missing": len(result.notes - notes_in_db),
    }
    problems = []
    if found["bookings_missing_count"]:
        problems.append(f"{found['bookings_missing_count']} bookings answered 201 are not stored")
    if double_booked:
        problems.append(f"{double_booked} pairs of overlapping live appointments")
    if missing_reminders:
        problems.append(f"{len(missing_reminders)} appointments without a reminder row")
    if duplicated_reminders:
        problems.append(f"{len(duplicated_reminders)} appointments with duplicated reminder rows")
    if found["reminders_due_pending"]:
        problems.append(f"{found['reminders_due_pending']} due reminders not sent")
    if extra_emails:
        problems.append(f"{extra_emails} reminder emails beyond their sent rows (sent twice)")
    if missing_emails:
        problems.append(f"{missing_emails} reminders marked sent with no email")
    if found["notes_missing"]:
        problems.append(f"{found['notes_missing']} notes answered 201 are not stored")
    found["problems"] = problems
    return found
