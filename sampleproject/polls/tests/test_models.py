"""Question.was_published_recently, as in the tutorial."""

import datetime

import pytest
from django.utils import timezone

from polls.models import Question


@pytest.mark.parametrize(
    ("age", "recent"),
    [
        (datetime.timedelta(days=30), False),
        (datetime.timedelta(days=1, seconds=1), False),
        (datetime.timedelta(hours=23, minutes=59), True),
        (-datetime.timedelta(days=30), False),
    ],
)
def test_was_published_recently_only_within_the_last_day(age, recent):
    question = Question(pub_date=timezone.now() - age)
    assert question.was_published_recently() is recent
