"""The bench-only URLconf: the whole API of config.urls plus the bare baseline views."""

from django.urls import include, path

from bench import views
from config import urls as app_urls

urlpatterns = [
    path("bench/raw/<int:practice_id>/clients/", views.raw_clients),
    path("bench/raw/<int:practice_id>/complaints/", views.raw_complaints),
    path("bench/raw/<int:practice_id>/notes/", views.raw_notes),
    path("bench/raw/<int:practice_id>/invoices/", views.raw_invoices),
    path("bench/raw/<int:practice_id>/appointments/", views.raw_appointments),
    path("bench/raw/<int:practice_id>/outcomes/", views.raw_outcomes),
    path("", include(app_urls)),
]

handler400 = app_urls.handler400
handler403 = app_urls.handler403
handler404 = app_urls.handler404
handler500 = app_urls.handler500
