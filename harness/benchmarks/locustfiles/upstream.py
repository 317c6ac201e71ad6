"""Users loading the slow-upstream aggregation page (three upstream calls of 300, 600, 150 ms).

The page is SERVING_DJANGO_PATH (or --serving-django-path), default /upstream/threadpool (the
article's sync view); /upstream/async is its async view, /upstream/sequential calls one by one.

How the article measured it, mirrored here (facts only, no code copied):
- maerteijn/django-sync-or-async, ``Makefile`` target ``locust`` (commit cb3801c):
  ``locust --users 100 --spawn-rate 10 -t 30s``, with the web UI (no ``--headless``).
- Its locustfile ``src/django_sync_or_async/locust.py`` (stored under the repository's other
  name, maerteijn/sync_vs_async, commit 001bc23): one FastHttpUser with one task, GET of the
  view, and no ``wait_time``, which in Locust means no wait: each user sends its next request
  as soon as the previous one is answered.
- The article (maerteijn/maerteijn.nl, ``public/content/en/blog/django-sync-or-async.md``):
  "starting with 10 concurrent users, which will be slowly increased until 100", on an Apple
  M2 MacBook Air.
So: FastHttpUser, no wait, and by default one step of 100 users held 30 s, reached at 10 users
per second (the ramp takes the first 10 s of the step, as in the article's runs). The harness
sets its own steps through SERVING_DJANGO_STEPS.

    SERVING_DJANGO_PATH=/upstream/async SERVING_DJANGO_RAMP_S=10 \\
        locust -f harness/benchmarks/locustfiles/upstream.py --headless -H http://127.0.0.1:8000
"""

from typing import Any

import _steps
from locust import constant, events, task
from locust.contrib.fasthttp import FastHttpUser

DEFAULT_PATH = "/upstream/threadpool"  # the article's sync view

_steps.set_defaults(steps="100:30", spawn_rate=10)


@events.init_command_line_parser.add_listener
def _add_path_option(parser: Any) -> None:
    # An option rather than a bare environment variable, so a master passes it to its workers.
    parser.add_argument(
        "--serving-django-path",
        env_var="SERVING_DJANGO_PATH",
        default=DEFAULT_PATH,
        help=f"the aggregation page to load (default {DEFAULT_PATH})",
    )


class Steps(_steps.StepShape):
    """Users per step from SERVING_DJANGO_STEPS, else the article's 100 users at 10/s for 30 s."""


class Reader(FastHttpUser):
    wait_time = constant(0)

    @task
    def aggregated_page(self) -> None:
        path = getattr(self.environment.parsed_options, "serving_django_path", DEFAULT_PATH)
        self.client.get(path, name=path)
