"""`python -m loadtest.seed`: the load test's practice, written into the database DATABASE_URL
names (the template database every run is copied from; the schema is migrated first).

One practice (Europe/London) and its owner, through `create_practice`; 9 more therapists with
logins; one 45-minute service (15-minute buffer) offered by all ten, who work every day 08:00-13:00
and 14:00-20:00 (about 9,700 bookable hours in the 90-day horizon); and many clients, each with an
email address and email reminders, so a booking can use a client of its own and every reminder
email names one appointment. Reminders go out 14 days ahead (the policy's maximum), so the
bookings of the next two weeks put a reminder to send on the worker during the run.
"""

from __future__ import annotations

import datetime as dt
import os
import sys

PASSWORD = "loadtest-Password-2024"  # noqa: S105 - a throwaway database's logins
SLUG = "loadtest"
OWNER_EMAIL = "owner@load.test"
THERAPISTS = 9  # besides the owner
REMINDER_HOURS_BEFORE = 14 * 24


def therapist_email(number: int) -> str:
    return f"therapist{number}@load.test"


def seed(clients: int) -> str:
    from django.db import connection, transaction

    from clients.models import Client
    from practice.models import Practice, Role, Service, Therapist
    from practice.services import create_practice, create_user_in_practice, set_working_hours

    week = [{"weekday": d, "start": dt.time(8), "end": dt.time(13)} for d in range(7)]
    week += [{"weekday": d, "start": dt.time(14), "end": dt.time(20)} for d in range(7)]
    with transaction.atomic():
        practice = create_practice(
            slug=SLUG,
            name="Load Test Back Clinic",
            timezone_name="Europe/London",
            owner_email=OWNER_EMAIL,
            owner_password=PASSWORD,
            owner_first_name="Olive",
            owner_last_name="Owner",
        )
        Practice.objects.filter(pk=practice.pk).update(reminder_hours_before=REMINDER_HOURS_BEFORE)
        service = Service.objects.create(
            practice=practice,
            name="Back massage (45 min)",
            duration_minutes=45,
            buffer_minutes=15,
            price=55,
        )
        for number in range(THERAPISTS):
            create_user_in_practice(
                practice=practice,
                email=therapist_email(number),
                password=PASSWORD,
                role=Role.THERAPIST,
                first_name=f"Therapist{number}",
                last_name="Load",
            )
        for therapist in Therapist.objects.filter(practice=practice):
            therapist.services.add(service)
            set_working_hours(therapist=therapist, intervals=week)
        Client.objects.bulk_create(
            (
                Client(
                    practice=practice,
                    first_name=f"Client{number}",
                    last_name=f"Load{number % 97}",
                    email=f"client{number}@load.test",
                    phone=f"+44 7700 {number:06d}",
                    reminder_channels=["email"],
                )
                for number in range(clients)
            ),
            batch_size=2000,
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return f"seeded practice '{SLUG}': 10 therapists, 1 service, {clients} clients"


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    print(seed(int(sys.argv[1]) if len(sys.argv) > 1 else 12000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
