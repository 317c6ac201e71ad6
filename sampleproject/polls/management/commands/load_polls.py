"""``manage.py load_polls [--count N]``: sample questions for the ORM and polls endpoints."""

import datetime

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from polls.models import Choice, Question

SAMPLE_POLLS = (
    ("What's up?", ("Not much", "The sky", "Just hacking again")),
    ("Which server runs your Django project?", ("gunicorn", "uWSGI", "uvicorn", "granian")),
    ("Sync or async views?", ("Sync", "Async", "It depends")),
    ("Which database?", ("SQLite", "PostgreSQL", "MySQL", "Something else")),
    ("Who serves your static files?", ("WhiteNoise", "A reverse proxy", "A CDN")),
)


def sample_poll(index: int) -> tuple[str, tuple[str, ...]]:
    """The ``index``-th sample question and its choices; texts stay unique past the list."""
    text, choices = SAMPLE_POLLS[index % len(SAMPLE_POLLS)]
    round_number = index // len(SAMPLE_POLLS)
    if round_number:
        text = f"{text} (round {round_number + 1})"
    return text, choices


class Command(BaseCommand):
    help = "Create sample poll questions with their choices; running it again adds no duplicates."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--count", type=int, default=5, help="how many questions should exist (default 5)"
        )

    def handle(self, *args: object, count: int, **options: object) -> None:
        created = 0
        now = timezone.now()
        with transaction.atomic():
            for index in range(count):
                text, choices = sample_poll(index)
                # The question text is the identity of a sample, which makes reruns idempotent.
                question, is_new = Question.objects.get_or_create(
                    question_text=text,
                    defaults={"pub_date": now - datetime.timedelta(minutes=index)},
                )
                if is_new:
                    Choice.objects.bulk_create(
                        Choice(question=question, choice_text=choice) for choice in choices
                    )
                    created += 1
        self.stdout.write(f"Created {created} questions; {count - created} already existed.")
