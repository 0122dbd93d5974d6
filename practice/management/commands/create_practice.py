"""`manage.py create_practice`: a practice and its owner (API.md "Setting up")."""

from django.core.management.base import BaseCommand, CommandError

from practice.errors import DomainError
from practice.services import create_practice


class Command(BaseCommand):
    help = "Create a practice and its owner (who is also a therapist)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--timezone", required=True, help="IANA zone, e.g. Europe/London")
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", required=True)
        parser.add_argument("--owner-first-name", default="")
        parser.add_argument("--owner-last-name", default="")

    def handle(self, *args, **options) -> None:
        try:
            practice = create_practice(
                slug=options["slug"],
                name=options["name"],
                timezone_name=options["timezone"],
                owner_email=options["owner_email"],
                owner_password=options["owner_password"],
                owner_first_name=options["owner_first_name"],
                owner_last_name=options["owner_last_name"],
            )
        except DomainError as error:
            reason = error.errors[0]["detail"] if error.errors else error.detail
            raise CommandError(reason) from None
        self.stdout.write(f"Created practice '{practice.slug}' ({practice.name}).")
