"""Stepped load and statistics per step, shared by the Serving Django locustfiles.

A locustfile gets both by defining a subclass of ``StepShape`` (Locust picks up shape classes
from the locustfile's namespace; the base here is abstract so that it is never picked up twice)
and by importing this module at all (the listeners register on import). Settings come from
environment variables, which double as command-line options of Locust:

SERVING_DJANGO_STEPS / --serving-django-steps (default "50:4,150:4,300:4")
    ``users:seconds`` pairs. Each step's seconds start when the step begins, so the ramp to a
    step's users is part of that step. Locust asks the shape once a second, so steps should be
    whole seconds (a step due at 2.5 s takes effect at the 3 s tick).
SERVING_DJANGO_SPAWN_RATE / --serving-django-spawn-rate (default: reach any step in 0.5 s)
    Users started (or stopped) per second between steps. In distributed runs Locust's master
    waits for a ramp to finish before it looks at the clock again, so a slow ramp shifts every
    later step; keep ramps under a second.
SERVING_DJANGO_RAMP_S / --serving-django-ramp (default 0)
    Seconds at the start of every step whose requests are kept apart (as the step's ``ramp``)
    and left out of its figures: the time users take to arrive and queues take to fill, so a
    step's figures describe its steady state. The step's ``ran_s`` is what remains.
SERVING_DJANGO_TIMEOUT_S / --serving-django-timeout (default 5)
    Connection and network timeout of every request, in seconds (Locust's own default is 60).
SERVING_DJANGO_STEP_STATS (no option: it is a path on the machine that sends the load)
    A directory: at exit, every process that sent requests writes ``steps-<pid>.json`` there.
    With ``--processes N`` each worker writes its own file; whoever reads them adds them up.
SERVING_DJANGO_START_FILE (no option, a path as well)
    Locust (a standalone one, or the master) waits for this file to exist before its steps
    begin, for at most START_WAIT_S. The harness starts Locust while the server starts, so
    Locust's own start-up (about 1 s of imports) overlaps the server's.

Per-step statistics bucket every request by the step in force when its answer (or its
failure) *arrived*: its start time plus its response time, since the test started. A step's
rate is then a count of answers that arrived inside it over its duration, which no server can
raise above what it can finish in that time; bucketing by the time a request was sent credited
a step with the answers of the queue it left behind (a server holding 2 requests at a time for
0.6 s each, at most 3.3 answers a second, was given 5.5 over a run whose queue drained after
its last step, in capture 20261205T054906Z). Answers that arrived after the last step ended (the
queue draining while Locust stops, users finishing their task) are counted apart as
``drained``, in no step and in no rate; those that arrived during a step's ramp
(``--serving-django-ramp``) as that step's ``ramp``. Answers that arrived in the first
``SETTLING_S`` after the ramp stay in the step's figures and are also summarised on their own
(``settling``): that is where a ramp would distort latency (new users' first requests answered
together), so readers can check that it did not. Locustfiles with a wait time avoid the burst
by starting each user at a random point of a wait (see polls.py). A request Locust reports
without a response time is placed at its start.

Distributed runs (``--master`` / ``--worker`` on several machines): the master sends the
options above to its workers, so workers bucket with the master's steps. Each worker needs
this directory (run it from a checkout): ``-f -`` ships only the named locustfile.
``-t`` is honoured as a hard stop; ``-u`` and ``-r`` are ignored (the steps decide). Unless
``--stop-timeout`` is given, it becomes the request timeout plus 1 s, so that requests in
flight when the last step ends finish (or time out) and are counted.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from locust import LoadTestShape, events
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment
from locust.exception import CatchResponseError
from locust.runners import MasterRunner, WorkerRunner
from locust.user.task import LOCUST_STATE_STOPPING

STEPS_ENV = "SERVING_DJANGO_STEPS"
SPAWN_RATE_ENV = "SERVING_DJANGO_SPAWN_RATE"
TIMEOUT_ENV = "SERVING_DJANGO_TIMEOUT_S"
RAMP_ENV = "SERVING_DJANGO_RAMP_S"
STEP_STATS_ENV = "SERVING_DJANGO_STEP_STATS"
START_FILE_ENV = "SERVING_DJANGO_START_FILE"

DEFAULT_STEPS = "50:4,150:4,300:4"
DEFAULT_TIMEOUT_S = 5.0
RAMP_TARGET_S = 0.5  # the default spawn rate reaches the largest step change in this time
SETTLING_S = 0.5
START_WAIT_S = 300.0  # a server that starts slower than this has failed its start long before
START_POLL_S = 0.02
MAX_CLOCK_GAP_S = 5.0
# 2: each step has its ramp; 3: requests are placed by the time their answer arrived, and those
# after the last step are "drained" (they were "late_requests", placed by their start)
FILE_SCHEMA_VERSION = 3
# Bounds on what one process keeps: failure texts can embed anything (URLs, addresses).
MAX_MESSAGES_KEPT = 1000
MESSAGES_WRITTEN = 50
MESSAGE_CHARS = 300
OTHER_MESSAGES = "(other failure messages)"

_defaults: dict[str, Any] = {"steps": DEFAULT_STEPS, "spawn_rate": None}


@dataclass(frozen=True)
class Step:
    users: int
    seconds: float
    start_s: float  # since the test started

    @property
    def end_s(self) -> float:
        return self.start_s + self.seconds


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    spawn_rate: float
    timeout_s: float
    ramp_s: float = 0.0

    @property
    def total_s(self) -> float:
        return self.steps[-1].end_s

    def step_index_at(self, offset_s: float) -> int | None:
        """The step in force ``offset_s`` after the start; None once the last one is over."""
        for index, step in enumerate(self.steps):
            if offset_s < step.end_s:
                return index
        return None


def parse_steps(text: str) -> tuple[Step, ...]:
    """``"50:4,150:4"`` -> steps; ValueError with the offending part otherwise."""
    steps: list[Step] = []
    start = 0.0
    for part in (piece.strip() for piece in text.split(",")):
        users_text, _, seconds_text = part.partition(":")
        try:
            users, seconds = int(users_text), float(seconds_text)
        except ValueError:
            raise ValueError(f"{STEPS_ENV}: {part!r} is not users:seconds") from None
        if users < 0 or not seconds > 0 or not math.isfinite(seconds):
            raise ValueError(f"{STEPS_ENV}: {part!r} needs users >= 0 and seconds > 0")
        steps.append(Step(users, seconds, start))
        start += seconds
    return tuple(steps)


def default_spawn_rate(steps: tuple[Step, ...]) -> float:
    """Fast enough to reach every step within RAMP_TARGET_S."""
    counts = [0, *(step.users for step in steps)]
    largest_change = max(abs(after - before) for before, after in itertools.pairwise(counts))
    return max(1.0, largest_change / RAMP_TARGET_S)


def set_defaults(steps: str, spawn_rate: float | None) -> None:
    """Let a locustfile choose its default steps, and the spawn rate that goes with them (used
    only when the steps are the default too). Call it at import, before Locust parses options."""
    _defaults.update(steps=steps, spawn_rate=spawn_rate)


def plan_from_options(options: Any) -> Plan:
    """The plan from Locust's parsed options (which fall back to the environment variables)."""
    chosen_steps = getattr(options, "serving_django_steps", None)
    steps = parse_steps(chosen_steps or _defaults["steps"])
    rate = getattr(options, "serving_django_spawn_rate", None)
    if rate is None and not chosen_steps:
        rate = _defaults["spawn_rate"]
    timeout = getattr(options, "serving_django_timeout", None) or DEFAULT_TIMEOUT_S
    ramp = float(getattr(options, "serving_django_ramp", None) or 0.0)
    if ramp < 0 or any(ramp >= step.seconds for step in steps):
        raise ValueError(f"{RAMP_ENV}: {ramp:g} s must be >= 0 and shorter than every step")
    return Plan(steps, float(rate or default_spawn_rate(steps)), float(timeout), ramp)


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    # Custom options travel from the master to its workers; plain environment variables would
    # have to be set on every machine, and a worker with other steps would bucket wrongly.
    parser.add_argument(
        "--serving-django-steps",
        env_var=STEPS_ENV,
        default=None,
        help=f"users:seconds,... (default {_defaults['steps']})",
    )
    parser.add_argument(
        "--serving-django-spawn-rate",
        env_var=SPAWN_RATE_ENV,
        type=float,
        default=None,
        help="users per second between steps (default: reach each step in 0.5 s)",
    )
    parser.add_argument(
        "--serving-django-ramp",
        env_var=RAMP_ENV,
        type=float,
        default=None,
        help="seconds at the start of each step left out of its figures (default 0)",
    )
    parser.add_argument(
        "--serving-django-timeout",
        env_var=TIMEOUT_ENV,
        type=float,
        default=None,
        help=f"connect and network timeout per request, seconds (default {DEFAULT_TIMEOUT_S:g})",
    )


class StepShape(LoadTestShape):
    """Users per step from the plan; stops after the last step (or at ``-t``)."""

    abstract = True  # each locustfile defines a subclass, which Locust then picks up
    use_common_options = True  # we read -t ourselves; without this Locust warns and ignores it

    def tick(self) -> tuple[int, float] | None:
        options = self.runner.environment.parsed_options if self.runner else None
        plan = plan_from_options(options)
        run_time = self.get_run_time()
        limit = getattr(options, "run_time", None)
        if limit and run_time >= limit:
            return None
        index = plan.step_index_at(run_time)
        if index is None:
            return None
        return plan.steps[index].users, plan.spawn_rate


class Summary:
    """Count, failures, a 1 ms response-time histogram and failure texts of some requests."""

    def __init__(self) -> None:
        self.requests = 0
        self.failures = 0
        self.timed = 0  # requests with a response time (Locust allows None)
        self.total_ms = 0.0
        self.min_ms: float | None = None
        self.max_ms: float | None = None
        self.histogram_ms: Counter[int] = Counter()
        self.messages: Counter[str] = Counter()
        self.by_name: Counter[str] = Counter()

    def add(self, name: str, response_time_ms: float | None, failure: str | None) -> None:
        self.requests += 1
        self.by_name[name] += 1
        if failure is not None:
            self.failures += 1
            if failure in self.messages or len(self.messages) < MAX_MESSAGES_KEPT:
                self.messages[failure] += 1
            else:
                self.messages[OTHER_MESSAGES] += 1
        if response_time_ms is None:
            return
        self.timed += 1
        self.total_ms += response_time_ms
        self.min_ms = (
            response_time_ms if self.min_ms is None else min(self.min_ms, response_time_ms)
        )
        self.max_ms = (
            response_time_ms if self.max_ms is None else max(self.max_ms, response_time_ms)
        )
        self.histogram_ms[round(response_time_ms)] += 1

    def as_record(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failures": self.failures,
            "timed_requests": self.timed,
            "total_response_time_ms": round(self.total_ms, 3),
            "min_response_time_ms": self.min_ms,
            "max_response_time_ms": self.max_ms,
            "response_times_ms": {str(ms): n for ms, n in sorted(self.histogram_ms.items())},
            "failure_messages": dict(self.messages.most_common(MESSAGES_WRITTEN)),
            "requests_by_name": dict(sorted(self.by_name.items())),
        }


@dataclass
class StepRecorder:
    """Per-step summaries of this process's requests, from test start to exit."""

    plan: Plan | None = None
    started_at: float | None = None  # time.time() at test start, like a request's start_time
    stopped_at: float | None = None
    steps: list[Summary] = field(default_factory=list)
    ramps: list[Summary] = field(default_factory=list)
    settling: list[Summary] = field(default_factory=list)
    drained: Summary = field(default_factory=Summary)  # answered after the last step ended

    def start(self, plan: Plan, started_at: float) -> None:
        self.plan, self.started_at, self.stopped_at = plan, started_at, None
        self.steps = [Summary() for _ in plan.steps]
        self.ramps = [Summary() for _ in plan.steps]
        self.settling = [Summary() for _ in plan.steps]
        self.drained = Summary()

    def stop(self) -> None:
        if self.started_at is not None and self.stopped_at is None:
            self.stopped_at = time.time()

    def ran_s(self, step: Step) -> float:
        """How long the step was in force after its ramp: a stop (-t, Ctrl-C) can cut it short."""
        assert self.plan is not None
        ramp = self.plan.ramp_s
        if self.started_at is None or self.stopped_at is None:
            return step.seconds - ramp
        in_force = min(step.seconds, max(0.0, self.stopped_at - self.started_at - step.start_s))
        return max(0.0, in_force - ramp)

    def add(self, sent_at: float, name: str, ms: float | None, failure: str | None) -> None:
        """Count one request in the step its answer (or failure) arrived in."""
        if self.plan is None or self.started_at is None:
            return  # no test is running: nothing to attribute it to
        arrived_at = sent_at + (ms or 0.0) / 1000
        offset = max(0.0, arrived_at - self.started_at)
        index = self.plan.step_index_at(offset)
        if index is None:
            self.drained.add(name, ms, failure)
            return
        into_step = offset - self.plan.steps[index].start_s
        if into_step < self.plan.ramp_s:
            self.ramps[index].add(name, ms, failure)
            return
        self.steps[index].add(name, ms, failure)
        if into_step - self.plan.ramp_s < SETTLING_S:
            self.settling[index].add(name, ms, failure)

    def as_record(self) -> dict[str, Any]:
        assert self.plan is not None
        steps = []
        parts = zip(self.plan.steps, self.steps, self.ramps, self.settling, strict=True)
        for step, summary, ramp, settling in parts:
            record = {
                "users": step.users,
                "seconds": step.seconds,
                "start_s": step.start_s,
                "ran_s": round(self.ran_s(step), 3),
            }
            record.update(summary.as_record())
            record["ramp"] = {"seconds": self.plan.ramp_s, **ramp.as_record()}
            record["settling"] = {"seconds": SETTLING_S, **settling.as_record()}
            steps.append(record)
        return {
            "schema_version": FILE_SCHEMA_VERSION,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "stopped_at": self.stopped_at,
            "spawn_rate": self.plan.spawn_rate,
            "timeout_s": self.plan.timeout_s,
            "steps": steps,
            "drained": self.drained.as_record(),
        }


recorder = StepRecorder()


def describe_error(error: BaseException) -> str:
    """An error in words, without the URL, so the same failure on /polls/1/ and /polls/2/
    counts as one message (requests are grouped by name already)."""
    if isinstance(error, CatchResponseError):
        return str(error)  # the locustfile's own words
    original = getattr(error, "original", None)  # geventhttpclient's RetriesExceeded
    if isinstance(original, BaseException):
        return describe_error(original)
    text = getattr(error, "text", None)  # other geventhttpclient errors: str() leads with URL
    detail = text if isinstance(text, str) and hasattr(error, "url") else str(error)
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def failure_text(name: str, exception: BaseException) -> str:
    text = f"{name}: {describe_error(exception)}"
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def stopping(user: Any) -> bool:
    """Whether Locust asked this user to stop (the steps are over, or a step went down): its
    task should send no further request, which would count in no step."""
    return getattr(user, "_state", None) == LOCUST_STATE_STOPPING


def apply_timeout(environment: Environment, timeout_s: float) -> None:
    """Locust's 60 s default would hide an overloaded server behind very long waits."""
    for user_class in environment.user_classes:
        if issubclass(user_class, FastHttpUser):
            user_class.network_timeout = timeout_s
            user_class.connection_timeout = timeout_s


@events.init.add_listener
def _check_options(environment: Environment, **_: Any) -> None:
    # Bad steps should stop Locust at start with their message, not crash the shape mid-run.
    plan = plan_from_options(environment.parsed_options)
    if not environment.stop_timeout:
        # Without it, Locust kills requests still in flight when the last step ends, and the
        # queue an overloaded server left behind (answers or timeouts) is never counted, not
        # even as drained. Answers after the last step count in no step, so a task's next
        # request may be cut. A master passes it to workers.
        environment.stop_timeout = plan.timeout_s + 1


@events.init.add_listener
def _wait_for_start_file(environment: Environment, **_: Any) -> None:
    # Listeners run in order, so bad options have stopped Locust before it waits.
    path = os.environ.get(START_FILE_ENV)
    if not path or isinstance(environment.runner, WorkerRunner):
        return  # workers start when their master tells them
    logging.getLogger(__name__).info("waiting for %s before the first step", path)
    wait_for_file(Path(path), START_WAIT_S)


def wait_for_file(path: Path, timeout_s: float) -> None:
    """Return once ``path`` exists; SystemExit naming it after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() >= deadline:
            raise SystemExit(f"{START_FILE_ENV}: {path} did not appear within {timeout_s:g} s")
        time.sleep(START_POLL_S)


def test_started_at(environment: Environment) -> float:
    """When the steps' clock started, as this process's time.time().

    A worker's test_start comes with its first spawn message, which the master sends only when
    it gives that worker its first user: with several workers and a modest spawn rate, that is
    up to a few tenths of a second after the master's shape clock started. So the master (or
    a standalone Locust) stores its own start time in the options it sends to its workers, and
    they use that. Across machines this assumes clocks in step (NTP), as Locust's own
    per-second statistics do; a worker whose clock disagrees by more than MAX_CLOCK_GAP_S falls
    back to its own start.
    """
    now = time.time()
    options = environment.parsed_options
    if not isinstance(environment.runner, WorkerRunner):
        if options is not None:
            options.serving_django_started_at = now
        return now
    master_started_at = getattr(options, "serving_django_started_at", None)
    if master_started_at is None or abs(now - master_started_at) > MAX_CLOCK_GAP_S:
        return now
    return float(master_started_at)


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: Any) -> None:
    plan = plan_from_options(environment.parsed_options)
    apply_timeout(environment, plan.timeout_s)
    recorder.start(plan, test_started_at(environment))


@events.request.add_listener
def _on_request(
    name: str,
    response_time: float | None,
    exception: BaseException | None = None,
    start_time: float | None = None,
    **_: Any,
) -> None:
    if start_time is None:  # clients other than Locust's may leave it out
        start_time = time.time() - (response_time or 0) / 1000
    failure = None if exception is None else failure_text(name, exception)
    recorder.add(start_time, name, response_time, failure)


@events.test_stopping.add_listener
def _on_test_stopping(**_: Any) -> None:
    # test_stop would come after --stop-timeout, once the users finished their tasks.
    recorder.stop()


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_: Any) -> None:
    directory = os.environ.get(STEP_STATS_ENV)
    if not directory or recorder.plan is None or isinstance(environment.runner, MasterRunner):
        return  # a master sends no requests; its workers write their own files
    write_json_atomically(Path(directory) / f"steps-{os.getpid()}.json", recorder.as_record())


def write_json_atomically(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=path.name, suffix=".tmp", delete=False, encoding="utf-8"
    ) as handle:
        json.dump(document, handle, sort_keys=True, indent=1)
        handle.write("\n")
    os.replace(handle.name, path)
