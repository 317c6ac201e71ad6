"""The ORM views list the polls questions with their choices, in id order."""

import datetime

import pytest
from django.utils import timezone

from polls.models import Choice, Question

PUB_DATE = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


@pytest.fixture
def questions() -> list[Question]:
    """Two questions with choices created out of order, so ordering is really tested."""
    first = Question.objects.create(question_text="First?", pub_date=PUB_DATE)
    second = Question.objects.create(question_text="Second?", pub_date=timezone.now())
    Choice.objects.create(question=second, choice_text="Only", votes=7)
    Choice.objects.create(question=first, choice_text="A", votes=1)
    Choice.objects.create(question=first, choice_text="B", votes=0)
    return [first, second]


def assert_questions_listed(response, view: str, questions: list[Question]) -> None:
    assert response.status_code == 200
    payload = response.json()
    assert payload["view"] == view
    assert payload["total"] == 2
    assert [q["id"] for q in payload["questions"]] == [q.id for q in questions]
    first, second = payload["questions"]
    assert first["question_text"] == "First?"
    assert first["pub_date"] == PUB_DATE.isoformat()
    assert [(c["choice_text"], c["votes"]) for c in first["choices"]] == [("A", 1), ("B", 0)]
    assert [(c["choice_text"], c["votes"]) for c in second["choices"]] == [("Only", 7)]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "view"), [("/orm/sync", "sync"), ("/orm/async", "async")])
def test_orm_views_list_questions_with_choices_with_client(client, questions, path, view):
    assert_questions_listed(client.get(path), view, questions)


# Transactional: the async client runs the ORM in another thread, with its own connection,
# which sees only committed rows.
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("path", "view"), [("/orm/sync", "sync"), ("/orm/async", "async")])
async def test_orm_views_list_questions_with_choices_with_async_client(
    async_client, questions, path, view
):
    assert_questions_listed(await async_client.get(path), view, questions)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/orm/sync", "/orm/async"])
def test_orm_views_query_a_fixed_number_of_times(
    client, questions, django_assert_num_queries, path
):
    Question.objects.create(question_text="Third?", pub_date=PUB_DATE)
    # Questions, their prefetched choices, the count: not one query per question.
    with django_assert_num_queries(3):
        client.get(path)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/orm/sync", "/orm/async"])
def test_orm_views_on_an_empty_database(client, path):
    assert client.get(path).json()["questions"] == []
