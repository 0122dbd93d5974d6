"""A course of care draws on a package (issue 19.4): its visits take their sessions from the
course's own package first, other visits keep the expiry order, and a course may only name a
package sold to its own client."""

from __future__ import annotations

import pytest

from sessions.billing.models import ClientPackage, InvoiceLine
from sessions.records.course_models import CourseVisit
from tests.billing.money_setup import appointment
from tests.billing.test_packages import complete, sold
from tests.factories import ClientFactory, CourseFactory

pytestmark = pytest.mark.django_db


def test_a_course_visit_draws_on_the_courses_package_before_one_that_expires_sooner(
    therapist, practice
):
    client = ClientFactory(practice=practice)
    course = CourseFactory(client=client, visits=0)
    sooner = sold(practice, client, course.service, name="Sooner", expiry_days=30)
    for_course = sold(practice, client, course.service, name="For the course", expiry_days=300)
    course.client_package = for_course
    course.save(update_fields=["client_package"])
    visit = appointment(practice, client=client, service=course.service, therapist=course.therapist)
    CourseVisit.objects.create(course=course, appointment=visit)
    other = appointment(practice, client=client, service=course.service)

    assert complete(therapist.api, visit).status_code == 200
    assert complete(therapist.api, other).status_code == 200

    assert ClientPackage.objects.get(pk=for_course.pk).sessions_remaining == 9
    assert ClientPackage.objects.get(pk=sooner.pk).sessions_remaining == 9  # the other visit's
    line = InvoiceLine.objects.get(appointment=visit)
    assert line.total == 0
    assert "covered by package" in line.description


def test_a_course_names_only_a_package_of_its_own_client(owner, practice):
    client = ClientFactory(practice=practice)
    course = CourseFactory(client=client, visits=0)
    someone_else = sold(practice, ClientFactory(practice=practice), course.service, name="Theirs")

    refused = owner.api.patch(
        f"/api/v1/courses/{course.pk}/", {"client_package": someone_else.pk}, format="json"
    )
    own = sold(practice, client, course.service, name="Ours")
    accepted = owner.api.patch(
        f"/api/v1/courses/{course.pk}/", {"client_package": own.pk}, format="json"
    )

    assert refused.status_code == 400, refused.content
    assert refused.json()["errors"][0]["field"] == "client_package"
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["client_package"] == own.pk
    course.refresh_from_db()
    assert course.client_package_id == own.pk
