"""`python manage.py restore_check`: after restoring a database dump and the storage folder (docs/backup.md), check
that the schema is migrated and that every document's original is in storage with its recorded checksum."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from webapp.backups.checks import restore_check

MAX_LISTED = 50


class Command(BaseCommand):
    help = "Check a restored instance: migrations applied, every stored original present and unchanged."

    def handle(self, *args, **options) -> None:
        result = restore_check()
        for name in result.unapplied:
            self.stdout.write(f"not applied: {name}")
        for problem in result.problems[:MAX_LISTED]:
            self.stdout.write(problem)
        if len(result.problems) > MAX_LISTED:
            self.stdout.write(f"... and {len(result.problems) - MAX_LISTED} more")
        if not result.ok:
            raise CommandError(f"{len(result.unapplied)} migrations not applied (run manage.py migrate); "
                               f"{len(result.problems)} originals missing or changed; "
                               f"{result.originals} originals match.")
        self.stdout.write(self.style.SUCCESS(f"Schema migrated; {result.originals} originals present and unchanged."))
