"""Domain errors: each carries the contract's `code` and HTTP status (API.md "Errors").

Services raise these; `config.api.exception_handler` turns them into the error JSON in one place.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "invalid"
    status = 400
    default_detail = "The request could not be completed."

    def __init__(
        self, detail: str | None = None, *, errors: list[dict[str, str]] | None = None
    ) -> None:
        self.detail = detail or self.default_detail
        self.errors = errors
        super().__init__(self.detail)


class Invalid(DomainError):
    """A rule about the input that a serializer cannot see (400 `invalid`)."""

    @classmethod
    def on(cls, field: str, detail: str, code: str = "invalid") -> Invalid:
        return cls(detail, errors=[{"field": field, "code": code, "detail": detail}])


class NotFound(DomainError):
    code, status, default_detail = "not_found", 404, "Not found."


class PermissionDenied(DomainError):
    code, status = "permission_denied", 403
    default_detail = "You do not have permission to perform this action."


class InvalidCredentials(DomainError):
    code, status, default_detail = "invalid_credentials", 400, "Email or password is incorrect."


class SlotUnavailable(DomainError):
    code, status, default_detail = "slot_unavailable", 409, "That time is not available."


class InvalidTransition(DomainError):
    code, status, default_detail = "invalid_transition", 409, "That status change is not allowed."


class NoteLocked(DomainError):
    code, status, default_detail = "note_locked", 409, "The note is signed and cannot be changed."


class PreconditionFailed(DomainError):
    code, status, default_detail = "precondition_failed", 409, "A precondition is not met."


class IdempotencyKeyReused(DomainError):
    code, status = "idempotency_key_reused", 409
    default_detail = "This Idempotency-Key was used with a different request body."


class Throttled(DomainError):
    """A limit on what one caller may hold or do (API.md "Rate limits": 429 with Retry-After)."""

    code, status, default_detail = "throttled", 429, "Too many requests."

    def __init__(self, detail: str | None = None, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)


class IdentityNotProven(Invalid):
    """A confirmation lacked the second factor a record asks for (issue 13.1): 400 on the field."""


class InvoiceLocked(DomainError):
    """An issued invoice is immutable (issue 19.2): corrections are credit notes."""

    code, status = "invoice_locked", 409
    default_detail = "The invoice is issued and cannot be changed; issue a credit note instead."
