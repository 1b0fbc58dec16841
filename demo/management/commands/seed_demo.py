from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from demo import data
from demo.services import demo_seed


class Command(BaseCommand):
    help = "Load the deterministic demo data set and print one login per role."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--password", default=data.DEFAULT_PASSWORD)
        parser.add_argument("--quiet", action="store_true", help="Do not print the logins.")

    def handle(self, *args: Any, password: str, quiet: bool, **options: Any) -> None:
        demo_seed(password=password)
        if quiet:
            return
        self.stdout.write(f"Demo logins (password for all: {password}):")
        for role, email in data.LOGINS:
            self.stdout.write(f"  {role:<20} {email}")
        self.stdout.write(
            "Coordinator, municipality staff, province analyst and administrator also need a\n"
            "code from an authenticator app: `.venv/bin/python manage.py demo_code` prints it\n"
            f"(or add the demo key {data.DEMO_TOTP_SECRET} to an authenticator app)."
        )
