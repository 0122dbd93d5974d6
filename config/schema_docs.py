"""What the OpenAPI schema says about each operation, written for an integrator.

One table for the whole API (applied by `config.schema.document_operations`), so that routes added
in any app are described here, in one voice, and never by a view's docstring (those are for the
people who maintain the code). An operation missing from these tables has no summary, and
tests/contract/test_schema.py names it.

`RESOURCES` covers the standard operations of a router resource (list, create, get, update,
delete) by operationId prefix; `OPERATIONS` covers everything else, and overrides the former.
"""

from __future__ import annotations

from typing import NamedTuple


class Resource(NamedTuple):
    singular: str
    plural: str
    about: str  # one or two sentences: what it is, who may use it


class Doc(NamedTuple):
    summary: str
    description: str


RESOURCES: dict[str, Resource] = {
    "alerts": Resource(
        "alert",
        "alerts",
        "What needs a clinician's attention: a positive or `unsure` red-flag answer (at intake, "
        "on a complaint edit or in a follow-up) and a follow-up pain that is high or has risen. "
        "Owner and therapists only; each alert is also emailed once. Filter with "
        "`?acknowledged=false`.",
    ),
    "deleted": Resource(
        "deletion",
        "deletions",
        "Tombstones of hard-deleted records (erasure, purge, removed time off): only `type`, `id` "
        "and `deleted_at`, kept for the practice's `sync_horizon_days`. Sync with "
        "`?updated_since=`; an `updated_since` older than the horizon is a 400 (sync from "
        "scratch). Front desk and API keys see scheduling types only.",
    ),
    "api_keys": Resource(
        "API key",
        "API keys",
        "Practice keys for integrations (owner only). A key is sent as `Authorization: Bearer "
        "<key>` and acts in the scheduling scope: services, therapists, availability, "
        "appointments and clients' contact details.",
    ),
    "appointments": Resource(
        "appointment",
        "appointments",
        "Bookings. Staff see the practice's, a client their own, an API key the practice's. "
        "Lists use cursor pagination in start order; times are UTC with an offset.",
    ),
    "audit_events": Resource(
        "audit event",
        "audit events",
        "The practice's audit log: who read, wrote or exported which record, when and from "
        "where (owner only, read-only).",
    ),
    "clients": Resource(
        "client",
        "clients",
        "Client records: contact details, date of birth, health flags, reminder channels. "
        "Front desk and API keys see contact details only; a client sees their own record. "
        "Clients are never deleted (records follow a retention period); see erasure.",
    ),
    "complaints": Resource(
        "complaint",
        "complaints",
        "Back-pain complaints with red-flag screening. Any `yes` answer makes the complaint "
        "`referral_required` until a clinician clears it. Never visible to front desk or API "
        "keys; a client reads their own.",
    ),
    "consents": Resource(
        "consent",
        "consents",
        "Consent records (general treatment consent, consent for sensitive areas), recorded by "
        "clinicians and withdrawable by them or the client.",
    ),
    "erasure_requests": Resource(
        "erasure request",
        "erasure requests",
        "Requests to erase a client's personal data, with their due date and the answer: what "
        "was erased, what was kept under which retention rule and until when (owner only).",
    ),
    "notes": Resource(
        "note",
        "notes",
        "SOAP treatment notes with pain before and after (0-10). The author edits a note until "
        "it is signed; afterwards it is locked and corrected by amendments.",
    ),
    "outcomes": Resource(
        "outcome",
        "outcomes",
        "Outcome measures (NPRS, ODI, RMDQ, PSFS, GROC), scored by the server. Clinicians record "
        "them for any client; a client records their own.",
    ),
    "invoices": Resource(
        "invoice",
        "invoices",
        "Invoices and credit notes in the practice's currency, amounts as decimal strings with "
        "the currency's minor units. A completed appointment drafts one; staff draft, edit and "
        "issue (numbers are given at issue, gapless per practice); issued invoices are "
        "immutable (409 `invoice_locked`); a client reads their own issued ones. The list "
        "leaves `lines` out.",
    ),
    "payments": Resource(
        "payment",
        "payments",
        "Money received for an issued invoice (`cash`, `card_terminal`, `bank_transfer`, "
        "`provider`) and refunds (`kind`). Staff record payments with an optional "
        "`Idempotency-Key`; only owners refund; a client reads their own.",
    ),
    "reminders": Resource(
        "reminder",
        "reminders",
        "Reminders, follow-ups and rebooking nudges with their delivery status (read-only). "
        "They follow their appointment: a cancel or reschedule cancels or moves them.",
    ),
    "services": Resource(
        "service",
        "services",
        "What can be booked: name, duration and buffer in minutes, price, whether it is "
        "bookable online, and the therapists who offer it. Everyone reads; the owner writes.",
    ),
    "session_plans": Resource(
        "session plan",
        "session plans",
        "Ordered technique items for one appointment, or reusable templates (`name` instead of "
        "`appointment`). Each item is checked against the client's health flags.",
    ),
    "staff": Resource(
        "staff member",
        "staff members",
        "Members of the practice with their role (`owner`, `therapist`, `front_desk`); owner "
        "only. The last owner cannot be removed or demoted.",
    ),
    "tax_rates": Resource(
        "tax rate",
        "tax rates",
        "Named taxes a service's price carries (`percent`, `inclusive` when the price already "
        "holds the tax). Everyone reads; the owner writes; deleting retires a rate.",
    ),
    "techniques": Resource(
        "technique",
        "techniques",
        "The practice's technique catalog with each technique's contraindications per health "
        "flag. Built-in techniques cannot be deleted.",
    ),
    "therapists": Resource(
        "therapist",
        "therapists",
        "Staff who see clients, with the services they offer. Everyone in the practice reads; "
        "the owner changes them.",
    ),
    "time_off": Resource(
        "time-off period",
        "time-off periods",
        "Periods a therapist is away: no slot is offered inside them. Start and end are "
        "date-times with an offset.",
    ),
    "waitlist": Resource(
        "waiting-list entry",
        "waiting-list entries",
        "Clients waiting for a slot: when one frees up, the first matching entry is offered it "
        "by message and the first claim wins.",
    ),
    "webhooks": Resource(
        "webhook subscription",
        "webhook subscriptions",
        "Webhook subscriptions (owner only): events POSTed to your URL, signed with "
        "`Backcare-Signature`, retried with backoff for 24 hours. The secret is shown once.",
    ),
    # Money, issue 19 part B (sessions/api/package_views.py)
    "packages": Resource(
        "package",
        "packages",
        "A product of `sessions` sessions of some `services` for one `price` (in the practice's "
        "currency), used within `expiry_days` of the sale. Owners write; staff and clients read "
        "(clients only those on sale). Retire one with `active: false`.",
    ),
    "client_packages": Resource(
        "package sold",
        "packages sold",
        "A package sold to a client: `sessions_remaining` until `expires_on` (the practice's "
        "days). Each completed appointment of a covered service draws one session from the "
        "client's package that expires first, and its invoice line is then zero (\"covered by "
        'package"). Staff sell (`POST` with `package` and `client`: a draft invoice with the '
        "package's line comes with it); clients read their own.",
    ),
    "fees": Resource(
        "cancellation fee",
        "cancellation fees",
        "The practice's fee for a late cancellation (`late_cancel_fee_percent` of the service "
        "price) or a no-show (`no_show_fee_percent`), rounded half-up and added as a line to a "
        "draft invoice for the appointment. Staff read them, clients their own; owners waive.",
    ),
}

STANDARD_ACTIONS = {
    "list": ("List {plural}", "Paginated; see the query parameters for filters and ordering."),
    "create": ("Create {a} {singular}", "Unknown fields in the body are refused (400)."),
    "retrieve": (
        "Get {a} {singular}",
        "Another practice's record, or one hidden from you, is a 404.",
    ),
    "partial_update": (
        "Update {a} {singular}",
        "PATCH: send only the fields to change; unknown fields are refused (400).",
    ),
    "update": ("Replace {a} {singular}", "PUT: send the whole object."),
    "destroy": ("Delete {a} {singular}", "Answers 204 with no body."),
}

OPERATIONS: dict[str, Doc] = {
    "api_root_retrieve": Doc(
        "Where to start",
        "Links to the interactive docs, ReDoc, the OpenAPI schema, health, the guides and the "
        "main resources. No login needed.",
    ),
    "auth_token_create": Doc(
        "Log in",
        "Exchange an email and password for a bearer token (and the user). Send it as "
        "`Authorization: Bearer <token>`; it lasts 7 days by default. Rate limited per email "
        "and per address (429 `throttled` with `Retry-After`).",
    ),
    "auth_logout_create": Doc("Log out", "Revoke the token this request carries. Answers 204."),
    "auth_register_create": Doc(
        "Sign up as a client",
        "A client creates an account with a practice (by its `slug`). Answers a token at once; "
        "`me.client` stays null until the email is verified through the link sent to it.",
    ),
    "auth_verify_email_retrieve": Doc(
        "Preview a sign-up link",
        "What confirming the emailed link would do (the email, the practice, until when); it "
        "changes nothing, so a mail scanner opening the link confirms nothing.",
    ),
    "auth_verify_email_create": Doc(
        "Confirm a sign-up",
        '`{"token", "date_of_birth"?}`: links the account to the practice\'s client record '
        "with that email, or creates one. Linking a record that already holds personal or "
        "clinical data needs its `date_of_birth`; five wrong dates spend the link. Unconfirmed "
        "sign-ups expire.",
    ),
    "auth_email_change_confirm_retrieve": Doc(
        "Preview an email change", "The new address the link would make the login email."
    ),
    "auth_email_change_confirm_create": Doc(
        "Confirm an email change",
        '`{"token"}` from the link sent to the new address: only now do the login email and '
        "the client record's email change.",
    ),
    "auth_password_create": Doc(
        "Change your password",
        '`{"current_password", "new_password"}`. Every other token of the account stops '
        "working; the one that made the call stays valid.",
    ),
    "auth_password_reset_create": Doc(
        "Ask for a password reset",
        '`{"email"}`: answers 202 whether or not the email has an account, and mails a '
        "single-use link (valid one hour) when it does. A few mails an hour per address.",
    ),
    "auth_password_reset_confirm_retrieve": Doc(
        "Preview a reset link", "Which account the link would reset, and until when; no change."
    ),
    "auth_password_reset_confirm_create": Doc(
        "Reset a password",
        '`{"token", "new_password"}`: sets the password and revokes every token of the '
        "account. The link works once.",
    ),
    "me_email_create": Doc(
        "Change your login email",
        '`{"email", "password"}`: mails a confirmation link to the new address; nothing '
        "changes until it is confirmed (`auth/email-change/confirm/`).",
    ),
    "me_retrieve": Doc(
        "Who am I",
        "The caller: user, role, practice, the `client` id for a client, and the `calendar_url` "
        "of a therapist or client.",
    ),
    "me_calendar_rotate_create": Doc(
        "New calendar URL",
        "Issue a new secret calendar-feed URL; the old one stops working at once.",
    ),
    "me_export_retrieve": Doc(
        "Export my record",
        "A client's own record as a FHIR R4 Bundle (right of access). Every export is logged.",
    ),
    "me_erasure_request_create": Doc(
        "Ask to erase my data",
        "A client asks for their personal data to be erased. Contact details, logins and future "
        "bookings go at once; clinical records are kept (restricted) while the law requires. "
        "The answer lists what was erased and what was kept; the login ends with it.",
    ),
    "practice_retrieve": Doc(
        "Get my practice",
        "The caller's practice and its booking, reminder and privacy policies.",
    ),
    "practice_partial_update": Doc(
        "Change practice policies",
        "Owner only. Durations are in the units their names say (`_minutes`, `_hours`, "
        "`_days`); `timezone` is an IANA name.",
    ),
    "availability_retrieve": Doc(
        "Find free slots",
        "The times at which a service can be booked between two days, inside working hours and "
        "outside time off and other appointments (with buffers), respecting minimum notice and "
        "the booking horizon. `start` and `end` are days in the practice's time zone; each slot "
        "has its UTC times and the same times in local time with their offset. A range over 62 "
        "days, an end before its start or an unknown service is a 400.",
    ),
    "appointments_create": Doc(
        "Book an appointment",
        "Book a free slot. A time that is not free answers 409 `slot_unavailable`; of "
        "concurrent requests for one slot exactly one wins. A client booking for themselves "
        "leaves out `client`. Send an `Idempotency-Key` to retry safely.",
    ),
    "appointments_series_create": Doc(
        "Book a course of visits",
        "Book a weekly (or every-N-days) series at the same local time, up to 12 visits: all "
        "are booked or none.",
    ),
    "appointments_cancel_create": Doc(
        "Cancel an appointment",
        "`booked` to `cancelled`. Inside the practice's cancellation window the appointment is "
        "marked `late_cancellation`. Its reminders are cancelled.",
    ),
    "appointments_reschedule_create": Doc(
        "Move an appointment",
        "Move to a new start (and optionally another therapist), following the booking rules; "
        "409 `slot_unavailable` if the new time is not free. Reminders move with it.",
    ),
    "appointments_check_in_create": Doc(
        "Check a client in", "Staff only: `booked` to `checked_in`. Not time-gated."
    ),
    "appointments_complete_create": Doc(
        "Complete an appointment",
        "Staff only: `checked_in` to `completed`. Schedules the follow-up question.",
    ),
    "appointments_no_show_create": Doc("Mark a no-show", "Staff only: `booked` to `no_show`."),
    "calendar_.ics_retrieve": Doc(
        "Calendar feed",
        "A therapist's or client's appointments as iCalendar, by the secret URL in `me`. No "
        "clinical content; cancelled visits carry `STATUS:CANCELLED`.",
    ),
    "clients_access_log_list": Doc(
        "Who accessed a client's record",
        "Owner only: reads, writes and exports of one client's records by anyone (user, role or "
        "API key, address), newest first.",
    ),
    "clients_clearances_list": Doc(
        "A client's medical clearances",
        "Clinicians only: the clearances recorded for flags that need a doctor's go-ahead "
        "(`dvt`, `uncontrolled_hypertension_cardiac`, `pregnancy_high_risk`, "
        "`cancer_active_treatment`), with who gave and who recorded each, the document or note, "
        "and the dates it runs from and to.",
    ),
    "clients_clearances_create": Doc(
        "Record a medical clearance",
        "Clinicians only: `flag`, `cleared_by_name` (the clinician who gave it), `cleared_on`, "
        "`expires_on`, `document` (the letter's reference) and `note`. While a clearance is "
        "current, plans for that flag follow the matrix instead of being refused. Only for a "
        "flag the client holds; `expires_on` at most a year after `cleared_on`. Audited.",
    ),
    "clients_clearances_revoke_create": Doc(
        "Revoke a medical clearance",
        "Clinicians only, with a `reason`: the clearance is kept as history but is no longer "
        "current (409 if already revoked). Recording a clearance flag on the client again "
        "revokes that flag's clearances the same way. Audited.",
    ),
    "clients_erasure_create": Doc(
        "Erase a client's data",
        "Owner only, on the client's behalf: the same as `me/erasure-request/`.",
    ),
    "clients_export_retrieve": Doc(
        "Export a client's record",
        "The client's whole record as a FHIR R4 Bundle. Every export is logged.",
    ),
    "clients_legal_hold_create": Doc(
        "Set or clear a legal hold",
        "Owner only. A record on hold is never purged; the reason is kept and audited.",
    ),
    "techniques_contraindication_changes_list": Doc(
        "History of a technique's contraindications",
        "Owner only: every change to this technique's rows of the safety matrix or its usual "
        "pressure (items without a pressure are checked at it), newest first, with who made it "
        "and the rows and pressure before and after. Kept, with the technique's code, when the "
        "technique is deleted (owner only, audited).",
    ),
    "invoices_issue_create": Doc(
        "Issue an invoice",
        "draft -> issued with the next number of the practice's gapless sequence; sends "
        "`invoice.issued`. From then on the invoice is immutable. An empty invoice is a 400.",
    ),
    "invoices_void_create": Doc(
        "Void an invoice",
        'Owner only, `{"reason"}`: a draft or an unpaid issued invoice becomes `void` (its '
        "number stays used). Refund its payments first (409 otherwise).",
    ),
    "invoices_credit_notes_create": Doc(
        "Credit an invoice",
        'Owner only, `{"reason", "lines"}`: a credit note correcting an issued invoice, issued '
        "at once with the next number. It credits at most the balance still owed (400).",
    ),
    "invoices_pay_online_create": Doc(
        "Pay an invoice online",
        '`{"amount"?}` (the balance by default): starts a card payment with the practice\'s '
        "provider and answers the `client_secret` the payer's browser completes it with. The "
        "payment counts once the provider's signed webhook confirms it. 409 with `manual`.",
    ),
    "invoices_pdf_retrieve": Doc(
        "Invoice or receipt as PDF",
        "`?document=invoice` (default), `receipt` (with the payments) or `insurance_receipt` "
        "(with the therapist's registration number and the treatment dates).",
    ),
    "payments_refund_create": Doc(
        "Refund a payment",
        'Owner only, `{"amount", "reason"}`: never more than is left of the payment (400). A '
        "paid invoice owed money again becomes `issued`.",
    ),
    "billing_providers_webhook_create": Doc(
        "Payment provider webhook",
        "Where the payment provider (`stripe`) confirms or fails an online payment. No login: "
        "the `Stripe-Signature` header, verified with the endpoint secret, authenticates it; a "
        "bad or old signature is a 400 and changes nothing.",
    ),
    "alerts_acknowledge_create": Doc(
        "Acknowledge an alert",
        'A clinician records what was done about it, `{"note"}`. Audited; a second '
        "acknowledgement is a 409.",
    ),
    "complaints_resolve_create": Doc(
        "Resolve a complaint",
        "Marks an `active` complaint `resolved`; any other status (an open referral included: "
        "clear it first) is a 409 `invalid_transition`.",
    ),
    "complaints_reopen_create": Doc(
        "Reopen a complaint",
        "Brings a `resolved` complaint back to `active`, for a new episode of the same problem; "
        "any other status is a 409 `invalid_transition`.",
    ),
    "complaints_clear_create": Doc(
        "Clear a referral",
        "A clinician records the referral outcome with a note, lifting `referral_required`.",
    ),
    "complaints_progress_retrieve": Doc(
        "Progress of a complaint",
        "Per instrument: baseline, latest, improvement (positive when better), percent, whether "
        "the change is clinically meaningful or beyond measurement error, and the dated series.",
    ),
    "complaints_progress.svg_retrieve": Doc(
        "Progress chart (SVG)",
        "The progress as an SVG chart: one line per instrument, points spaced by date, the band "
        "within one MCID of baseline shaded, session scores marked apart from others.",
    ),
    "consents_withdraw_create": Doc(
        "Withdraw a consent",
        "By a clinician or the client. The record stays, with its withdrawal time.",
    ),
    "notes_sign_create": Doc(
        "Sign a note", "Lock the note: any later change is a 409 `note_locked`."
    ),
    "notes_amendments_list": Doc(
        "List a note's amendments", "Corrections of a signed note, with author and time."
    ),
    "notes_amendments_create": Doc(
        "Amend a signed note", "Add a correction beside the original; the original is kept."
    ),
    "public_practice_retrieve": Doc(
        "A practice's booking page",
        "For a booking widget, no login: the practice's name, time zone, booking policy "
        "(minimum notice, horizon, cancellation window) and whether it books online.",
    ),
    "public_services_list": Doc(
        "Services bookable online", "Services of the practice that can be booked without login."
    ),
    "public_therapists_list": Doc(
        "Therapists bookable online", "Therapists who take online bookings, with their services."
    ),
    "public_availability_retrieve": Doc(
        "Free slots (public)",
        "As `availability/`, for services and therapists bookable online. `start` and `end` are "
        "days in the practice's time zone (see `public/{slug}/`).",
    ),
    "public_bookings_create": Doc(
        "Book without an account",
        "Books for a new or matching client and answers a `manage_url` (also emailed). The "
        "answer is the same whether or not the email is known. Rate limited per address; send "
        "an `Idempotency-Key` to retry safely.",
    ),
    "public_bookings_retrieve": Doc(
        "A booking by its manage link", "The token in the link is the only credential."
    ),
    "public_bookings_cancel_retrieve": Doc(
        "Preview a cancellation", "Whether cancelling now would be late."
    ),
    "public_bookings_cancel_create": Doc(
        "Cancel by manage link", "Cancel the booking the link names."
    ),
    "public_bookings_reschedule_retrieve": Doc(
        "The booking to move", "The booking the manage link names, as before a reschedule."
    ),
    "public_bookings_reschedule_create": Doc(
        "Reschedule by manage link",
        "Moves the booking to `start` (UTC with an offset; a slot of public availability), "
        "optionally with another `therapist`. Follows the public booking rules (notice, horizon, "
        "free slot: 409 `slot_unavailable` otherwise) and the cancellation window: inside it a "
        "move is a 409 `precondition_failed` unless the practice lets clients change late.",
    ),
    "public_follow_ups_retrieve": Doc(
        "The follow-up question", "Sent after a session; the token in the message is the login."
    ),
    "public_follow_ups_create": Doc(
        "Answer the follow-up", "Today's pain 0-10, stored as an NPRS outcome."
    ),
    "public_unsubscribe_retrieve": Doc(
        "Unsubscribe (preview)", "What the unsubscribe link would turn off."
    ),
    "public_unsubscribe_create": Doc("Unsubscribe", "Turn off the messages the link names."),
    "public_waitlist_offers_claim_retrieve": Doc(
        "A waiting-list offer", "The slot offered, and until when it is held."
    ),
    "public_waitlist_offers_claim_create": Doc(
        "Claim a waiting-list offer", "Book the offered slot: the first claim wins, others get 409."
    ),
    "therapists_working_hours_list": Doc(
        "A therapist's weekly hours",
        "Intervals per weekday (0 = Monday) in the practice's local time, `HH:MM`.",
    ),
    "therapists_working_hours_update": Doc(
        "Set a therapist's weekly hours",
        "Replaces the whole week. Several intervals a day are allowed; local times of the "
        "practice, so daylight-saving changes keep the same wall-clock hours.",
    ),
    "waitlist_cancel_create": Doc("Leave the waiting list", "The entry stops receiving offers."),
    "webhooks_deliveries_list": Doc(
        "A webhook's delivery log", "Each delivery attempt with its status and answer snippet."
    ),
    "webhooks_deliveries_redeliver_create": Doc(
        "Redeliver an event",
        "Send a delivery again now: a new attempt with the same event id, for de-duplication.",
    ),
    "api_keys_create": Doc(
        "Create an API key", "Answers the `key` once; later reads never show it."
    ),
    "api_keys_destroy": Doc(
        "Revoke an API key", "The key stops working at once; the row stays for the record."
    ),
    "webhooks_create": Doc(
        "Subscribe to events",
        "`url` and `events`. Answers the signing `secret` once. URLs on private or loopback "
        "addresses are refused unless the deployment allows them.",
    ),
    "client_packages_create": Doc(
        "Sell a package",
        "`package` and `client`. Answers the package sold, with `invoice`: a draft invoice "
        "holding the package's line, for staff to issue. An inactive package is a 400.",
    ),
    "client_packages_restore_create": Doc(
        "Give a package session back",
        "Owners only: `appointment` (one that drew a session from this package) and `reason`. "
        "The session returns to the package; the use is kept, marked returned, and the change is "
        "in the audit log. A session given back already is a 409.",
    ),
    "fees_waive_create": Doc(
        "Waive a cancellation fee",
        "Owners only, with a `reason`. The fee's line stays on its draft invoice at zero and "
        'says "(waived)"; the fee keeps its `amount`, `waived_at`, `waived_by` and '
        "`waive_reason`, and the waiver is in the audit log. A fee on an issued invoice is a 409 "
        "`precondition_failed`: correct it with a credit note. Waiving twice is a 409.",
    ),
    "reports_revenue_retrieve": Doc(
        "Revenue report",
        "Owners only. Issued and paid invoices' lines less issued credit notes, by `period` "
        "(`day`, `week` starting Monday, or `month`, in the practice's local days), therapist "
        "and service, between `start` and `end` (local dates, inclusive; default the last 30 "
        "days, 12 weeks or 365 days). Drafts and void invoices are not revenue. Amounts are "
        "strings in the practice's currency. `?format=csv` answers a spreadsheet.",
    ),
    "reports_outstanding_retrieve": Doc(
        "Outstanding balances",
        "Owners only. What issued invoices still owe (total less paid less credited), per "
        "client, aged by local days since issue: `0_30`, `31_60`, `61_plus`. `?format=csv` "
        "answers a spreadsheet (cells that a spreadsheet would run as formulas are quoted).",
    ),
    "reports_package_liability_retrieve": Doc(
        "Package liability",
        "Owners only. Sessions sold and not yet used in packages that have not expired, and "
        "what they are worth (price x sessions remaining / sessions sold, half-up). "
        "`?format=csv` answers a spreadsheet.",
    ),
}


def operation_doc(operation_id: str) -> Doc | None:
    """The summary and description of one operation, or None when the tables do not name it."""
    if operation_id in OPERATIONS:
        return OPERATIONS[operation_id]
    for action, (summary, note) in STANDARD_ACTIONS.items():
        prefix = operation_id.removesuffix(f"_{action}")
        if prefix != operation_id and prefix in RESOURCES:
            resource = RESOURCES[prefix]
            article = "an" if resource.singular[0] in "aeiouAEIOU" else "a"
            return Doc(
                summary.format(a=article, singular=resource.singular, plural=resource.plural),
                f"{resource.about}\n\n{note}",
            )
    return None
