"""Locust's own ceiling: as many GET / as Locust can send, against a trivial app.

Every user sends its next request as soon as the previous one is answered, so the rate is bound
by whichever side saturates first; against a trivial app that is Locust itself. It carries the
same per-step listener as the measured locustfiles, so the ceiling includes its cost.

    SERVING_DJANGO_STEPS=20:5 locust -f harness/benchmarks/locustfiles/ceiling.py \\
        --headless -H http://127.0.0.1:8000
"""

from _steps import StepShape
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser


class Steps(StepShape):
    """Users per step from SERVING_DJANGO_STEPS (see _steps)."""


class TrivialPage(FastHttpUser):
    wait_time = constant(0)

    @task
    def home(self) -> None:
        self.client.get("/", name="home")
