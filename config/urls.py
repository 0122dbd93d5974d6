"""URL map: `/api/v1/` (tenant resources, auth, me, practice, schema, docs) and `/healthz`."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from clients.api.views import ClientViewSet, ComplaintViewSet, ConsentViewSet
from practice.api import views as practice_views
from techniques.api.views import TechniqueViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("staff", practice_views.StaffViewSet, basename="staff")
router.register("therapists", practice_views.TherapistViewSet, basename="therapist")
router.register("time-off", practice_views.TimeOffViewSet, basename="time-off")
router.register("services", practice_views.ServiceViewSet, basename="service")
router.register("audit-events", practice_views.AuditEventViewSet, basename="audit-event")
router.register("clients", ClientViewSet, basename="client")
router.register("consents", ConsentViewSet, basename="consent")
router.register("complaints", ComplaintViewSet, basename="complaint")
router.register("techniques", TechniqueViewSet, basename="technique")

api: list = [
    path("auth/token/", practice_views.LoginView.as_view(), name="auth-token"),
    path("auth/logout/", practice_views.LogoutView.as_view(), name="auth-logout"),
    path("auth/register/", practice_views.RegisterView.as_view(), name="auth-register"),
    path("auth/verify-email/", practice_views.VerifyEmailView.as_view(), name="auth-verify-email"),
    path("me/", practice_views.MeView.as_view(), name="me"),
    path("practice/", practice_views.PracticeView.as_view(), name="practice"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include(router.urls)),
]

urlpatterns = [
    path("api/v1/", include(api)),
    path("healthz", practice_views.HealthView.as_view(), name="healthz"),
]

handler400 = "config.api.json_bad_request"
handler403 = "config.api.json_permission_denied"
handler404 = "config.api.json_not_found"
handler500 = "config.api.json_server_error"
