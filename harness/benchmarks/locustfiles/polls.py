"""Visitors voting in the Django tutorial's polls: a form, then a POST with its CSRF token.

One task is one vote: GET /polls/<id>/ ("vote form"), read the csrfmiddlewaretoken and the
choice ids from the page, POST a random choice to /polls/<id>/vote/ ("vote"). The view answers
302 to the results page; that redirect is the success, and it is not followed. Everything else
is a failure whose message carries the status (``vote: answered 403``).

Needs a database prepared with ``manage.py migrate`` and ``manage.py load_polls`` (which
creates questions 1..QUESTIONS on a fresh database).

    SERVING_DJANGO_STEPS=50:30 locust -f harness/benchmarks/locustfiles/polls.py \\
        --headless -H http://127.0.0.1:8000
"""

import random
import re
from urllib.parse import urlencode

import gevent
from _steps import StepShape, describe_error, stopping
from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

QUESTIONS = 5  # load_polls' default --count
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CHOICE = re.compile(r'name="choice"[^>]*\svalue="(\d+)"')


class Steps(StepShape):
    """Users per step from SERVING_DJANGO_STEPS (see _steps)."""


class Voter(FastHttpUser):
    wait_time = between(1, 2)

    def on_start(self) -> None:
        # Start at a random point of a wait: otherwise every user of a new step sends its
        # first form at once, and that burst (not the step's steady load) sets its latency.
        gevent.sleep(random.random() * self.wait_time())  # noqa: S311

    @task
    def vote(self) -> None:
        question = random.randint(1, QUESTIONS)  # noqa: S311 - load, not secrets
        form = self.open_form(question)
        # Once Locust is stopping, the vote would count in no step: skip it rather than make
        # the stop wait for it.
        if form is not None and not stopping(self):
            token, choices = form
            self.send_vote(question, token, random.choice(choices))  # noqa: S311

    def open_form(self, question: int) -> tuple[str, list[str]] | None:
        """The page's CSRF token and choice ids; None (and a failure) if the page lacks them."""
        with self.client.get(
            f"/polls/{question}/", name="vote form", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(status_message(response))
                return None
            page = response.text or ""
            token, choices = TOKEN.search(page), CHOICE.findall(page)
            if token is None or not choices:
                response.failure("the page has no CSRF token or no choices")
                return None
            return token.group(1), choices

    def send_vote(self, question: int, token: str, choice: str) -> None:
        path = f"/polls/{question}/"
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            # Django rejects an https POST without a Referer (or Origin) from the same site.
            "Referer": (self.host or "").rstrip("/") + path,
        }
        with self.client.post(
            f"{path}vote/",
            data=urlencode({"csrfmiddlewaretoken": token, "choice": choice}),
            headers=headers,
            name="vote",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code == 302:
                response.success()
            else:
                response.failure(status_message(response))


def status_message(response) -> str:
    """What went wrong, with the status; status 0 means there was no answer, so say why."""
    error = getattr(response, "error", None)
    if not response.status_code and error is not None:
        return f"no answer ({describe_error(error)})"
    return f"answered {response.status_code}"
