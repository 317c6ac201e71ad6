"""The poll pages and voting, through the test clients."""

import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from polls.models import Choice, Question


def create_question(text: str, days: float) -> Question:
    """A question published ``days`` from now (negative: in the past)."""
    return Question.objects.create(
        question_text=text, pub_date=timezone.now() + datetime.timedelta(days=days)
    )


@pytest.fixture
def question(db) -> Question:
    question = create_question("Past question?", days=-1)
    Choice.objects.create(question=question, choice_text="Yes")
    Choice.objects.create(question=question, choice_text="No")
    return question


def votes(question: Question) -> dict[str, int]:
    return dict(question.choice_set.values_list("choice_text", "votes"))


@pytest.mark.django_db
def test_index_without_questions_says_so(client):
    response = client.get(reverse("polls:index"))
    assert response.status_code == 200
    assert "No polls are available." in response.text


@pytest.mark.django_db
def test_index_lists_the_five_latest_past_questions_only(client):
    for day in range(1, 8):
        create_question(f"Question {day} days ago", days=-day)
    create_question("Future question", days=30)
    response = client.get(reverse("polls:index"))
    listed = [q.question_text for q in response.context["latest_question_list"]]
    assert listed == [f"Question {day} days ago" for day in range(1, 6)]


@pytest.mark.django_db(transaction=True)
async def test_index_with_async_client(async_client):
    await Question.objects.acreate(question_text="Async era?", pub_date=timezone.now())
    response = await async_client.get(reverse("polls:index"))
    assert response.status_code == 200
    assert "Async era?" in response.text


@pytest.mark.django_db
def test_detail_of_a_future_question_is_not_found(client):
    future = create_question("Future question", days=5)
    assert client.get(reverse("polls:detail", args=(future.id,))).status_code == 404


def test_detail_shows_a_vote_form_with_csrf_token(client, question):
    response = client.get(reverse("polls:detail", args=(question.id,)))
    assert response.status_code == 200
    assert response.text.count('type="radio" name="choice"') == 2
    assert 'name="csrfmiddlewaretoken"' in response.text
    assert f'action="{reverse("polls:vote", args=(question.id,))}"' in response.text


def test_vote_counts_once_per_post_and_redirects_to_results(client, question):
    yes = question.choice_set.get(choice_text="Yes")
    url = reverse("polls:vote", args=(question.id,))
    response = client.post(url, {"choice": yes.id})
    client.post(url, {"choice": yes.id})
    assert response.status_code == 302
    assert response["Location"] == reverse("polls:results", args=(question.id,))
    assert votes(question) == {"Yes": 2, "No": 0}


@pytest.mark.parametrize("posted", [{}, {"choice": "999999"}, {"choice": "not a number"}])
def test_vote_without_a_valid_choice_redisplays_the_form_with_an_error(client, question, posted):
    response = client.post(reverse("polls:vote", args=(question.id,)), posted)
    assert response.status_code == 200
    assert "You didn&#x27;t select a choice." in response.text
    assert votes(question) == {"Yes": 0, "No": 0}


def test_vote_needs_post(client, question):
    assert client.get(reverse("polls:vote", args=(question.id,))).status_code == 405


def test_vote_is_protected_by_csrf_like_a_browser_sees_it(question):
    browser = Client(enforce_csrf_checks=True)
    no = question.choice_set.get(choice_text="No")
    url = reverse("polls:vote", args=(question.id,))
    assert browser.post(url, {"choice": no.id}).status_code == 403
    form = browser.get(reverse("polls:detail", args=(question.id,))).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)[1]
    response = browser.post(url, {"choice": no.id, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert votes(question) == {"Yes": 0, "No": 1}


def test_results_show_the_votes(client, question):
    question.choice_set.filter(choice_text="Yes").update(votes=3)
    response = client.get(reverse("polls:results", args=(question.id,)))
    assert response.status_code == 200
    assert "Yes -- 3 votes" in response.text
    assert "No -- 0 votes" in response.text


@pytest.mark.django_db(transaction=True)
async def test_detail_vote_and_results_with_async_client(async_client):
    question = await Question.objects.acreate(question_text="Async vote?", pub_date=timezone.now())
    choice = await Choice.objects.acreate(question=question, choice_text="Sure")
    detail = await async_client.get(reverse("polls:detail", args=(question.id,)))
    assert 'type="radio" name="choice"' in detail.text
    vote = await async_client.post(
        reverse("polls:vote", args=(question.id,)), {"choice": choice.id}
    )
    assert vote.status_code == 302
    results = await async_client.get(reverse("polls:results", args=(question.id,)))
    assert "Sure -- 1 vote</li>" in results.text
