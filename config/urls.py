"""URL map: `/api/v1/` (its root, tenant resources, auth, me, practice, schema, docs, redoc),
`/healthz`, `/metrics` and `/static/` (the docs pages' assets)."""

from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)
from rest_framework.routers import DefaultRouter

from clients.api.clearance_views import ClientClearanceRevokeView, ClientClearancesView
from clients.api.views import ClientViewSet, ComplaintViewSet, ConsentViewSet, OutcomeViewSet
from config.metrics import metrics_view
from config.views import ApiRootView, docs_asset
from practice.api import integration_views, schedule_views
from practice.api import views as practice_views
from sessions.api import (
    alert_views,
    billing_views,
    calendar_link_views,
    clinical_views,
    course_views,
    intake_views,
    money_report_views,
    package_views,
    privacy_views,
    reminder_views,
    waitlist_views,
)
from sessions.api import views as session_views
from sessions.api.report_views import report_routes
from techniques.api.views import TechniqueViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.include_format_suffixes = False
router.register("staff", practice_views.StaffViewSet, basename="staff")
router.register("therapists", practice_views.TherapistViewSet, basename="therapist")
router.register("time-off", practice_views.TimeOffViewSet, basename="time-off")
router.register("services", practice_views.ServiceViewSet, basename="service")
router.register("rooms", schedule_views.RoomViewSet, basename="room")
router.register("tax-rates", practice_views.TaxRateViewSet, basename="tax-rate")
router.register("audit-events", practice_views.AuditEventViewSet, basename="audit-event")
router.register("api-keys", integration_views.ApiKeyViewSet, basename="api-key")
router.register("webhooks", integration_views.WebhookViewSet, basename="webhook")
router.register("deleted", integration_views.DeletedViewSet, basename="deleted")
router.register("clients", ClientViewSet, basename="client")
router.register("consents", ConsentViewSet, basename="consent")
router.register("complaints", ComplaintViewSet, basename="complaint")
router.register("techniques", TechniqueViewSet, basename="technique")
router.register("appointments", session_views.AppointmentViewSet, basename="appointment")
router.register("session-plans", clinical_views.SessionPlanViewSet, basename="session-plan")
router.register("notes", clinical_views.NoteViewSet, basename="note")
router.register("reminders", reminder_views.ReminderViewSet, basename="reminder")
router.register("alerts", alert_views.AlertViewSet, basename="alert")
router.register("courses", course_views.CourseViewSet, basename="course")
router.register("waitlist", waitlist_views.WaitlistViewSet, basename="waitlist")
router.register("outcomes", OutcomeViewSet, basename="outcome")
router.register("invoices", billing_views.InvoiceViewSet, basename="invoice")
router.register("payments", billing_views.PaymentViewSet, basename="payment")
router.register("erasure-requests", privacy_views.ErasureRequestViewSet, basename="erasure-request")
router.register("intake-forms", intake_views.IntakeFormViewSet, basename="intake-form")
# Money, issue 19 part B: packages, packages sold, cancellation fees (sessions/api/package_views.py)
router.register("packages", package_views.PackageViewSet, basename="package")
router.register("client-packages", package_views.ClientPackageViewSet, basename="client-package")
router.register("fees", package_views.CancellationFeeViewSet, basename="fee")

api: list = [
    path("auth/token/", practice_views.LoginView.as_view(), name="auth-token"),
    path("auth/logout/", practice_views.LogoutView.as_view(), name="auth-logout"),
    path("auth/register/", practice_views.RegisterView.as_view(), name="auth-register"),
    path("auth/verify-email/", practice_views.VerifyEmailView.as_view(), name="auth-verify-email"),
    path("auth/password/", practice_views.PasswordChangeView.as_view(), name="auth-password"),
    path(
        "auth/password-reset/",
        practice_views.PasswordResetView.as_view(),
        name="auth-password-reset",
    ),
    path(
        "auth/password-reset/confirm/",
        practice_views.PasswordResetConfirmView.as_view(),
        name="auth-password-reset-confirm",
    ),
    path(
        "auth/email-change/confirm/",
        practice_views.EmailChangeConfirmView.as_view(),
        name="auth-email-change-confirm",
    ),
    path("me/email/", practice_views.EmailChangeView.as_view(), name="me-email"),
    path("me/", practice_views.MeView.as_view(), name="me"),
    path(
        "me/calendar/rotate/",
        practice_views.RotateCalendarView.as_view(),
        name="me-calendar-rotate",
    ),
    path("practice/", practice_views.PracticeView.as_view(), name="practice"),
    path(
        "therapists/<int:pk>/date-overrides/",
        schedule_views.DateOverridesView.as_view(),
        name="therapist-date-overrides",
    ),
    path(
        "therapists/<int:pk>/date-overrides/<int:override_id>/",
        schedule_views.DateOverrideView.as_view(),
        name="therapist-date-override",
    ),
    path(
        "billing/providers/<str:name>/webhook/",
        billing_views.ProviderWebhookView.as_view(),
        name="billing-provider-webhook",
    ),
    path("availability/", session_views.AvailabilityView.as_view(), name="availability"),
    path(
        "calendar/<str:token>.ics", session_views.CalendarFeedView.as_view(), name="calendar-feed"
    ),
    path(
        "public/waitlist-offers/<str:token>/claim/",
        waitlist_views.WaitlistClaimView.as_view(),
        name="public-waitlist-claim",
    ),
    # Intake before the first visit (issue 17): sessions/api/intake_views.py
    path(
        "public/intake/<str:token>/",
        intake_views.PublicIntakeView.as_view(),
        name="public-intake",
    ),
    path(
        "public/intake/<str:token>/submit/",
        intake_views.PublicIntakeSubmitView.as_view(),
        name="public-intake-submit",
    ),
    path("me/intake/", intake_views.OwnIntakeView.as_view(), name="me-intake"),
    path("me/intake/submit/", intake_views.OwnIntakeSubmitView.as_view(), name="me-intake-submit"),
    path("clients/<int:pk>/intake/", intake_views.ClientIntakeView.as_view(), name="client-intake"),
    path(
        "clients/<int:pk>/intake/resend/",
        intake_views.ClientIntakeResendView.as_view(),
        name="client-intake-resend",
    ),
    path(
        "clients/<int:pk>/intake/proposals/<int:pid>/confirm/",
        intake_views.ProposalDecisionView.as_view(),
        name="client-intake-proposal-confirm",
    ),
    path(
        "clients/<int:pk>/intake/proposals/<int:pid>/reject/",
        intake_views.ProposalRejectView.as_view(),
        name="client-intake-proposal-reject",
    ),
    path(
        "appointments/<int:pk>/intake-on-paper/",
        intake_views.IntakeOnPaperView.as_view(),
        name="appointment-intake-on-paper",
    ),
    path(
        "public/follow-ups/<str:token>/",
        reminder_views.FollowUpView.as_view(),
        name="public-follow-up",
    ),
    path(
        "public/outcomes/<str:token>/",
        course_views.PublicOutcomesView.as_view(),
        name="public-outcomes",
    ),
    path(
        "public/unsubscribe/<str:token>/",
        reminder_views.UnsubscribeView.as_view(),
        name="public-unsubscribe",
    ),
    path(
        "public/bookings/<str:token>/",
        session_views.PublicManageView.as_view(),
        name="public-booking",
    ),
    path(
        "public/bookings/<str:token>/cancel/",
        session_views.PublicCancelView.as_view(),
        name="public-booking-cancel",
    ),
    path("public/<slug:slug>/", session_views.PublicPracticeView.as_view(), name="public-practice"),
    path(
        "public/bookings/<str:token>/reschedule/",
        session_views.PublicRescheduleView.as_view(),
        name="public-booking-reschedule",
    ),
    path(
        "public/<slug:slug>/services/",
        session_views.PublicServicesView.as_view(),
        name="public-services",
    ),
    path(
        "public/<slug:slug>/therapists/",
        session_views.PublicTherapistsView.as_view(),
        name="public-therapists",
    ),
    path(
        "public/<slug:slug>/availability/",
        session_views.PublicAvailabilityView.as_view(),
        name="public-availability",
    ),
    path(
        "public/<slug:slug>/bookings/",
        session_views.PublicBookingsView.as_view(),
        name="public-bookings",
    ),
    path(
        "complaints/<int:pk>/progress.svg",
        ComplaintViewSet.as_view({"get": "progress_svg"}),
        name="complaint-progress-svg",
    ),
    path(
        "courses/<int:pk>/progress.svg",
        course_views.CourseViewSet.as_view({"get": "progress_svg"}),
        name="course-progress-svg",
    ),
    path(
        "courses/<int:pk>/summary.pdf",
        course_views.CourseViewSet.as_view({"get": "summary_pdf"}),
        name="course-summary-pdf",
    ),
    path(
        "courses/<int:pk>/referral-letter.pdf",
        course_views.CourseViewSet.as_view({"get": "referral_letter"}),
        name="course-referral-letter",
    ),
    path(
        "clients/<int:pk>/export/", clinical_views.ClientExportView.as_view(), name="client-export"
    ),
    path(
        "clients/<int:pk>/clearances/",
        ClientClearancesView.as_view(),
        name="client-clearances",
    ),
    path(
        "clients/<int:pk>/clearances/<int:cid>/revoke/",
        ClientClearanceRevokeView.as_view(),
        name="client-clearance-revoke",
    ),
    # Outside calendars (issue 20.4): sessions/api/calendar_link_views.py
    path(
        "therapists/<int:pk>/calendars/",
        calendar_link_views.TherapistCalendarsView.as_view(),
        name="therapist-calendars",
    ),
    path(
        "therapists/<int:pk>/calendars/<int:cid>/",
        calendar_link_views.TherapistCalendarView.as_view(),
        name="therapist-calendar",
    ),
    path(
        "therapists/<int:pk>/calendars/<int:cid>/sync/",
        calendar_link_views.TherapistCalendarSyncView.as_view(),
        name="therapist-calendar-sync",
    ),
    # Privacy duties (DOMAIN.md 8): sessions/api/privacy_views.py
    path("me/export/", privacy_views.OwnExportView.as_view(), name="me-export"),
    path("me/erasure-request/", privacy_views.OwnErasureView.as_view(), name="me-erasure-request"),
    path(
        "clients/<int:pk>/erasure/",
        privacy_views.ClientErasureView.as_view(),
        name="client-erasure",
    ),
    path(
        "clients/<int:pk>/legal-hold/",
        privacy_views.LegalHoldView.as_view(),
        name="client-legal-hold",
    ),
    path(
        "clients/<int:pk>/access-log/",
        privacy_views.ClientAccessLogView.as_view(),
        name="client-access-log",
    ),
    # Money reports (issue 19.6), owners only: sessions/api/money_report_views.py
    path(
        "reports/revenue/", money_report_views.RevenueReportView.as_view(), name="reports-revenue"
    ),
    path(
        "reports/outstanding/",
        money_report_views.OutstandingReportView.as_view(),
        name="reports-outstanding",
    ),
    path(
        "reports/package-liability/",
        money_report_views.PackageLiabilityReportView.as_view(),
        name="reports-package-liability",
    ),
    # Insight reports (issue 21): sessions/api/report_views.py; each also as .svg and .csv
    *(path(route, view, name=name) for route, view, name in report_routes()),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path(
        "redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="docs/redoc.html"),
        name="redoc",
    ),
    path("", ApiRootView.as_view(router=router), name="api-root"),
    path("", include(router.urls)),
]

urlpatterns = [
    path("api/v1/", include(api)),
    path("healthz", practice_views.HealthView.as_view(), name="healthz"),
    path("metrics", metrics_view, name="metrics"),  # Prometheus, behind METRICS_TOKEN
    path("static/<path:path>", docs_asset, name="docs-asset"),  # the docs pages' scripts
]

handler400 = "config.api.json_bad_request"
handler403 = "config.api.json_permission_denied"
handler404 = "config.api.json_not_found"
handler500 = "config.api.json_server_error"
