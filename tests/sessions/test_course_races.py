"""Courses of care under concurrency, on real PostgreSQL: one review alert per course stage however
many reviews race (the partial unique constraint `one_course_alert_per_stage`, not the Python
check), and courses racing for the same times book one course, never half of two."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from clients.models import Instrument
from clients.services import record_outcome
from sessions.records import courses
from sessions.records.course_models import Course, CourseReview
from sessions.records.models import AlertKind, TherapistAlert
from sessions.scheduling.models import Appointment, Status
from tests.factories import ComplaintFactory, CourseFactory, TherapistAlertFactory
from tests.sessions.booking_setup import local

THREADS = 8


def race(calls: list[Callable[[], object]]) -> list[object]:
    """Each call in its own thread (own connection), all released at once; results or errors."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[index] = calls[index]()
        except Exception as error:  # any exception is a result here
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


def not_responding_course(bookable) -> Course:
    complaint = ComplaintFactory(client=bookable.client)
    for ticked in (14, 13):
        record_outcome(
            practice=bookable.practice,
            client=bookable.client,
            complaint=complaint,
            instrument=Instrument.RMDQ,
            answers={"items": [i < ticked for i in range(24)]},
            recorded_by=None,
        )
    course = CourseFactory(
        client=bookable.client,
        complaint=complaint,
        therapist=bookable.therapist,
        service=bookable.service,
        visits=6,
    )
    Appointment.objects.filter(course_visit__course=course).update(status=Status.COMPLETED)
    return Course.objects.select_related("practice", "complaint", "client", "therapist").get(
        pk=course.pk
    )


@pytest.mark.django_db
def test_the_database_holds_one_review_alert_per_stage(bookable):
    course = not_responding_course(bookable)
    first = TherapistAlertFactory(client=bookable.client)
    CourseReview.objects.create(
        course=course, stage=1, verdict="worse", visits_completed=6, weeks=0, alert=first
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        CourseReview.objects.create(
            course=course,
            stage=1,
            verdict="worse",
            visits_completed=6,
            weeks=0,
            alert=TherapistAlertFactory(client=bookable.client),
        )
    CourseReview.objects.create(  # a new stage may alert again
        course=course,
        stage=2,
        verdict="worse",
        visits_completed=6,
        weeks=0,
        alert=TherapistAlertFactory(client=bookable.client),
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_reviews_of_one_stage_raise_one_alert(bookable):
    course = not_responding_course(bookable)

    results = race([lambda: courses.review_response(course=course)] * THREADS)

    assert [r for r in results if isinstance(r, Exception)] == []
    assert {r.verdict for r in results} == {"not_responding"}  # type: ignore[union-attr]
    assert CourseReview.objects.filter(course=course).count() == THREADS
    assert TherapistAlert.objects.filter(kind=AlertKind.COURSE_REVIEW).count() == 1
    assert CourseReview.objects.filter(course=course, alert__isnull=False).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_courses_racing_for_the_same_times_book_one_course(owner, bookable):
    complaint = ComplaintFactory(client=bookable.client)
    body = {
        "client": bookable.client.pk,
        "complaint": complaint.pk,
        "therapist": bookable.therapist.pk,
        "service": bookable.service.pk,
        "start": local(bookable.practice, 3, 10).isoformat(),
        "planned_visits": 4,
    }

    def post() -> object:
        api = APIClient(raise_request_exception=False)
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {owner.token}")
        return api.post("/api/v1/courses/", body, format="json").status_code

    results = race([post] * THREADS)

    tally = Counter(results)
    assert tally[201] == 1, tally
    assert set(tally) <= {201, 400, 409}, tally
    assert Course.objects.count() == 1
    assert Appointment.objects.filter(start__gte=timezone.now() + timedelta(days=2)).count() == 4
