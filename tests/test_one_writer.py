"""Audit rows and outgoing email each have one writer: a scan of the apps' source for the calls
that would write them anywhere else (a bypass would skip the fields and rules kept there)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "practice", "clients", "techniques", "sessions")

# call written as ... -> the one module allowed to make it
ONE_WRITER = {
    "AuditEvent.objects.create": "practice/audit.py",
    "AuditEvent.objects.bulk_create": "practice/audit.py",
    "send_mail": "practice/mail.py",
    "send_mass_mail": "practice/mail.py",
    "EmailMessage": "practice/mail.py",
    "EmailMultiAlternatives": "practice/mail.py",
}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _calls() -> list[tuple[str, str, int]]:
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            relative = path.relative_to(ROOT).as_posix()
            for node in ast.walk(ast.parse(path.read_text(), relative)):
                if isinstance(node, ast.Call):
                    name = _dotted(node.func)
                    found.extend(
                        (call, relative, node.lineno)
                        for call in ONE_WRITER
                        if name == call or name.endswith(f".{call}")
                    )
    return found


CALLS = _calls()


def test_the_writers_themselves_are_found():
    assert ("EmailMessage", "practice/mail.py") in {(call, where) for call, where, _ in CALLS}
    # The audit row is one plain INSERT into the model's table (issue 22.2: no ORM save per
    # response), so the scan below looks for the table as well as for the ORM's calls.
    source = (ROOT / "practice/audit.py").read_text()
    assert "INSERT INTO" in source
    assert "AuditEvent._meta.db_table" in source


# Ways to name the audit table in raw SQL, which the ORM calls above would not show.
AUDIT_TABLE = ("AuditEvent._meta.db_table", "practice_auditevent")


def test_only_the_audit_module_names_the_audit_table():
    elsewhere = [
        path.relative_to(ROOT).as_posix()
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
        and path.relative_to(ROOT).as_posix() != "practice/audit.py"
        and any(name in path.read_text().lower() for name in map(str.lower, AUDIT_TABLE))
    ]
    assert elsewhere == []


@pytest.mark.parametrize("call", sorted(ONE_WRITER))
def test_only_one_module_makes_the_call(call):
    allowed = ONE_WRITER[call]
    elsewhere = [f"{at}:{line}" for name, at, line in CALLS if name == call and at != allowed]
    assert elsewhere == [], f"{call} outside {ONE_WRITER[call]}: {elsewhere}"
