from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management import BaseCommand, CommandError

from apps.chat.models import Visitor
from apps.chat.privacy import visitor_erase, visitor_export


class Command(BaseCommand):
    help = "Export (as JSON on stdout) or erase everything stored about one visitor."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("action", choices=["export", "erase"])
        parser.add_argument("visitor", help="the visitor's id (a UUID, as shown in the admin)")

    def handle(self, *args: object, action: str, visitor: str, **options: object) -> None:
        try:
            found = Visitor.objects.select_related("site").get(public_id=visitor)
        except (Visitor.DoesNotExist, ValidationError):
            raise CommandError(f"no visitor has the id {visitor!r}") from None
        if action == "export":
            self.stdout.write(
                json.dumps(visitor_export(visitor=found), ensure_ascii=False, indent=2)
            )
        else:
            deleted = visitor_erase(visitor=found)
            self.stdout.write(json.dumps(deleted, sort_keys=True))
