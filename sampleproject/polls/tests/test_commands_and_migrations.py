"""The load_polls sample-data command and the committed migrations."""

from io import StringIO

import pytest
from django.core.management import call_command

from polls.models import Choice, Question


@pytest.mark.django_db
def test_load_polls_creates_five_questions_with_three_or_four_choices():
    call_command("load_polls", stdout=StringIO())
    assert Question.objects.count() == 5
    assert {q.choice_set.count() for q in Question.objects.all()} <= {3, 4}


@pytest.mark.django_db
def test_load_polls_again_adds_nothing_and_a_larger_count_adds_the_rest():
    call_command("load_polls", stdout=StringIO())
    output = StringIO()
    call_command("load_polls", stdout=output)
    assert "Created 0 questions; 5 already existed." in output.getvalue()
    call_command("load_polls", "--count", "12", stdout=StringIO())
    assert Question.objects.count() == 12
    assert Question.objects.values("question_text").distinct().count() == 12
    assert Choice.objects.count() == sum(q.choice_set.count() for q in Question.objects.all())
    assert Question.objects.filter(choice__isnull=True).count() == 0


@pytest.mark.django_db
def test_committed_migrations_match_the_models():
    call_command("makemigrations", "--check", "--dry-run", stdout=StringIO())
