"""The ``interleaved`` scenario: the figures the site compares across servers, measured in one
run of interleaved rounds, with a fixed reference measured in the same rounds.

Servers measured one after another meet different machines: whatever drifts during a capture
(a neighbour on the host, the CPU's clock, the page cache) lands on some servers and not on
others, and two captures on one machine moved some configurations by up to 30 % (issue 20).
Here every round starts each target once, in an order rotated from round to round, and
measures each of its figures once, so drift spreads over all of them. Two reference targets,
ASGI and WSGI apps on Granian that do a fixed amount of pure-Python work per request and no
Django (``apps/raw.py``), run in the same rounds; each configuration's figure is also stored as
a ratio to the reference of its own interface in the same round (``reference_ratio``). Every
configuration is measured with each of the profile's middleware stacks (Django's default stack
with the static-files middleware, and none), each stack a target of its own in the same rounds,
so the gap between the stacks is measured under the same drift. The
work makes a reference CPU-bound at a Django-like rate: the first capture used trivial apps,
which ran at the load tool's limit and varied between rounds more than the configurations.

The rounds go on past the profile's least number while a reference app's answered/s still
varies from round to round by more than the profile's CV (up to its most rounds): a reference
does the same work every time, so its spread is the machine's, and the first standard capture's
varied 18 to 35 % in three rounds. Each figure records the rounds taken, why they stopped and
its reference's CV at the end.

One file, ``data/benchmarks/<machine>/<capture>/interleaved.json``, holds every target's
figures. It is written once every round is done, so an interrupted capture measures all rounds
again when resumed (a comparison is only one run when all of it is).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from evidence.vocabulary import ROUNDS_STOPPED
from harness.benchmarks.calibration import raw_app
from harness.benchmarks.django_setup import (
    NO_MIDDLEWARE_VARIANT,
    PRODUCTION,
    middleware_params,
)
from harness.benchmarks.figures import figure_record
from harness.benchmarks.h2load.command import H2loadRequest
from harness.benchmarks.h2load.run import run_h2load
from harness.benchmarks.measurement import Measurement, coefficient_of_variation
from harness.benchmarks.pinning import Pinning
from harness.benchmarks.scenarios.bench import ServerBench, ServerGone
from harness.benchmarks.scenarios.h2load_common import (
    HANG_MARGIN_S,
    _h2load,
    native_json,
    wait_until_answering,
    window_s,
    with_enough_per_client,
)
from harness.benchmarks.settings import BenchmarkSettings
from harness.capture_plan import Capture
from harness.definitions import ServerDefinition
from harness.endpoints import load_endpoints
from harness.environments import Environment, InstallError, ensure_environment
from harness.prepared import PrepareError, prepared_launcher, server_version, shown_command
from harness.progress import ServerProgress
from harness.upstream import UpstreamService

SCENARIO = "interleaved"
PROTOCOL = "http/1.1"
REFERENCE_NAMES = {
    "ref-asgi": "ASGI app on Granian with a fixed Python workload (no Django)",
    "ref-wsgi": "WSGI app on Granian with a fixed Python workload (no Django)",
}
REFERENCE_FLAVOUR = "busy"  # apps/raw.py: asgi_busy_app, wsgi_busy_app
# Why the rounds stopped.
SETTLED, AT_CAP, REFERENCE_FAILED, INTERRUPTED = ROUNDS_STOPPED


@dataclass
class Target:
    """One thing measured in every round: a configuration, or a reference app."""

    id: str
    interface: str  # wsgi or asgi: which reference a configuration is set against
    reference: bool
    # Measures one figure (clients) per call, on a target started once for the round.
    start: Callable[[], Any] | None = None
    setup_failure: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    windows: dict[int, float] = field(default_factory=dict)  # clients -> the rule's window
    # The configuration's server id (the same for each of its middleware stacks); the
    # reference apps have no Django, so no stack.
    server_id: str = ""
    stack: str | None = None

    @property
    def reference_id(self) -> str:
        return f"ref-{self.interface}"

    def figure(self, clients: int) -> str:
        """The figure's name: the production stack's keeps the name figures had before the
        stacks were varied, so a change since an earlier capture is shown against it."""
        name = f"{self.server_id or self.id} {PROTOCOL} c={clients}"
        return name if self.stack in (None, PRODUCTION) else f"{name}, {self.variant}"

    @property
    def variant(self) -> str | None:
        """The named difference from the setup (params "variant"), if any."""
        return None if self.stack in (None, PRODUCTION) else NO_MIDDLEWARE_VARIANT


def configuration_target_id(server_id: str, stack: str) -> str:
    """Each stack of a configuration is a target of its own in the rounds."""
    return server_id if stack == PRODUCTION else f"{server_id} (middleware: {stack})"


def round_order(targets: Sequence[Target], round_index: int, rounds: int) -> list[Target]:
    """The targets of one round, rotated so that each round begins at another place: no
    target is always measured first (on a machine still cool) or last. Rounds beyond
    ``rounds`` (the least number) start where the first ones did."""
    if not targets:
        return []
    shift = round_index * len(targets) // max(rounds, 1) % len(targets)
    return [*targets[shift:], *targets[:shift]]


@dataclass(frozen=True)
class RoundsOutcome:
    """How many rounds were taken, why no more, and each reference figure's CV of answered/s
    over them ((reference id, clients) -> CV in percent; None: fewer than two ok rounds)."""

    rounds: int
    stopped: str
    reference_cv_percent: dict[tuple[str, int], float | None]


def reference_cvs(
    repeats: dict[tuple[str, int], list[Measurement]], targets: Sequence[Target]
) -> dict[tuple[str, int], float | None]:
    """The CV of answered/s over the rounds so far of every reference figure; None where a
    round failed or fewer than two were measured."""
    reference_ids = {target.id for target in targets if target.reference}
    cvs: dict[tuple[str, int], float | None] = {}
    for (target_id, clients), measured in repeats.items():
        if target_id not in reference_ids:
            continue
        rates = [m.metrics.get("answered_per_s") for m in measured]
        ok = all(m.ok for m in measured) and None not in rates
        cvs[(target_id, clients)] = coefficient_of_variation(rates) if ok else None
    return cvs


def why_stop(
    repeats: dict[tuple[str, int], list[Measurement]],
    targets: Sequence[Target],
    settings: BenchmarkSettings,
    done: int,
) -> str | None:
    """Why no further round is measured after ``done`` rounds, or None to measure one more:
    after the least number of rounds, once every reference's CV is below the profile's, or a
    reference failed (no round can mend it), or at the most rounds."""
    if done < settings.interleaved_rounds:
        return None
    reference_ids = {target.id for target in targets if target.reference}
    if any(
        not measurement.ok
        for (target_id, _), measured in repeats.items()
        if target_id in reference_ids
        for measurement in measured
    ):
        return REFERENCE_FAILED
    cvs = reference_cvs(repeats, targets).values()
    limit = settings.interleaved_reference_cv_percent
    if all(cv is not None and cv < limit for cv in cvs):
        return SETTLED
    if done >= max(settings.interleaved_rounds, settings.interleaved_max_rounds):
        return AT_CAP
    return None


def with_reference_ratios(
    round_results: dict[tuple[str, int], Measurement], targets: Sequence[Target]
) -> None:
    """Add ``reference_ratio`` (answered/s over the same round's reference's) to each
    configuration's measurement of one round, where both were measured."""
    for target in targets:
        if target.reference:
            continue
        for (target_id, clients), measured in round_results.items():
            if target_id != target.id or not measured.ok:
                continue
            reference = round_results.get((target.reference_id, clients))
            ours = measured.metrics.get("answered_per_s")
            theirs = reference.metrics.get("answered_per_s") if reference and reference.ok else None
            measured.metrics["reference_ratio"] = ours / theirs if ours and theirs else None


class InterleavedRounds:
    """Every target once per round, each figure once per target, for the profile's rounds."""

    def __init__(
        self,
        settings: BenchmarkSettings,
        pinning: Pinning,
        scratch: Path,
        progress: ServerProgress,
        interrupted: Any,
    ) -> None:
        self.settings, self.pinning, self.scratch = settings, pinning, scratch
        self.progress, self.interrupted = progress, interrupted
        self.clients = settings.interleaved_clients
        self.outcome: RoundsOutcome | None = None  # set by run()

    def reference_target(self, granian: Environment | None, interface: str) -> Target:
        target_id = f"ref-{interface}"
        target = Target(target_id, interface, reference=True)
        target.params = {"target": target_id, "target_name": REFERENCE_NAMES[target_id]}
        if granian is None:
            target.setup_failure = "Granian, which serves the reference apps, is not installed"
            return target
        target.params["server_version"] = granian.packages.get("granian")
        target.start = lambda: self._reference_round(granian, target)
        return target

    def configuration_target(
        self, bench: ServerBench, version: str | None, stack: str = PRODUCTION
    ) -> Target:
        definition = bench.definition
        target = stack_target(definition, stack)
        target.params.update(
            {
                "server_version": version,
                "command": shown_command(definition),
                "workers": bench.launcher.workers(),
                "endpoint": native_json(definition),
                "path": bench.endpoints[native_json(definition)],
            }
        )
        target.start = lambda: self._configuration_round(bench, stack)
        return target

    def _configuration_round(self, bench: ServerBench, stack: str) -> dict[int, Measurement]:
        endpoint = native_json(bench.definition)
        try:
            with bench.server("http", middleware_stack=stack) as instance:
                return {
                    clients: _h2load(
                        bench, instance, instance.base_url, endpoint, clients, PROTOCOL
                    )
                    for clients in self.clients
                }
        except ServerGone as gone:
            return {clients: Measurement(failure=str(gone)[:2000]) for clients in self.clients}

    def _reference_round(self, granian: Environment, target: Target) -> dict[int, Measurement]:
        try:
            with raw_app(
                granian, target.interface, self.scratch, self.pinning, 60, REFERENCE_FLAVOUR
            ) as (url, cmd):
                target.params["command"] = cmd
                return {
                    clients: self._reference_run(url, clients, target) for clients in self.clients
                }
        except ServerGone as gone:
            return {clients: Measurement(failure=str(gone)[:2000]) for clients in self.clients}

    def _reference_run(self, base_url: str, clients: int, target: Target) -> Measurement:
        """One figure of a reference app, with the window rule the configurations' figures
        follow (its probe at the first round, the window kept for the others)."""
        settings = self.settings
        url = base_url + "/"

        def run(duration_s: float) -> Measurement:
            # Drained before every run, as the configurations' runs are (h2load_common._h2load).
            wait_until_answering(url, ssl.create_default_context())
            request = H2loadRequest(url, clients, "http/1.1", duration_s, settings.warmup_s)
            return run_h2load(
                request, self.scratch, timeout_s=duration_s + settings.warmup_s + HANG_MARGIN_S
            )

        if clients not in target.windows:
            rate = None
            if settings.window_requests_per_client:
                probe = run(settings.window_probe_s)
                rate = probe.metrics.get("answered_per_s") if probe.ok else None
            target.windows[clients] = window_s(settings, clients, rate)
        measured = run(target.windows[clients])
        # As for the configurations: too few requests per client for the rule lengthens this
        # figure's window, for this round and the later ones.
        target.windows[clients], measured = with_enough_per_client(
            settings, clients, target.windows[clients], measured, run
        )
        measured.details["window_s"] = target.windows[clients]
        return measured

    def run(self, targets: Sequence[Target]) -> dict[tuple[str, int], list[Measurement]]:
        """Measure rounds until ``why_stop`` says enough (``self.outcome`` says how many and
        why); returns each (target, clients) figure's repeats, one per round, in round
        order."""
        least = self.settings.interleaved_rounds
        most = max(least, self.settings.interleaved_max_rounds)
        limit = self.settings.interleaved_reference_cv_percent
        repeats: dict[tuple[str, int], list[Measurement]] = {
            (target.id, clients): [] for target in targets for clients in self.clients
        }
        started = time.monotonic()
        round_index = 0
        while True:
            if self.interrupted.is_set():
                stopped = INTERRUPTED
                break
            if (stopped := why_stop(repeats, targets, self.settings, round_index)) is not None:
                break
            if round_index >= least:
                unsettled = ", ".join(
                    f"{target_id} c={clients} CV {cv:.1f} %"
                    for (target_id, clients), cv in reference_cvs(repeats, targets).items()
                    if cv is not None and cv >= limit
                )
                self.progress.note(
                    f"round {round_index + 1} of at most {most}: a reference app varied by "
                    f"{limit:g} % or more ({unsettled})"
                )
            results: dict[tuple[str, int], Measurement] = {}
            for target in round_order(targets, round_index, least):
                if self.interrupted.is_set():
                    break
                if target.setup_failure or target.start is None:
                    failure = target.setup_failure or "no way to start it"
                    measured = {clients: Measurement(failure=failure) for clients in self.clients}
                else:
                    measured = target.start()
                for clients, measurement in measured.items():
                    results[(target.id, clients)] = measurement
                self.progress.note(
                    f"round {round_index + 1}/{least}: {target.id}: {_summary(measured)}"
                )
            with_reference_ratios(results, targets)
            for key, measurement in results.items():
                repeats[key].append(measurement)
            round_index += 1
            elapsed = time.monotonic() - started
            left = max(0, least - round_index) * elapsed / round_index
            self.progress.note(
                f"round {round_index}/{least} done in {elapsed / 60:.1f} min"
                + (f", about {left / 60:.1f} min left" if left else "")
                + (f" (up to {most} rounds while a reference app varies)" if most > least else "")
            )
        self.outcome = RoundsOutcome(round_index, stopped, reference_cvs(repeats, targets))
        return repeats


def _summary(measured: dict[int, Measurement]) -> str:
    parts = []
    for clients, measurement in measured.items():
        if measurement.ok:
            rate = measurement.metrics.get("answered_per_s")
            parts.append(
                f"c={clients} {rate:,.0f} answered/s" if rate is not None else f"c={clients} ok"
            )
        else:
            parts.append(f"c={clients} FAILED: {(measurement.failure or '')[:120]}")
    return "; ".join(parts)


def stack_target(definition: ServerDefinition, stack: str, failure: str | None = None) -> Target:
    """A configuration's target with one middleware stack; it fails every round with
    ``failure`` when that is given (it could not be prepared)."""
    target = Target(
        configuration_target_id(definition.id, stack),
        definition.interface,
        reference=False,
        server_id=definition.id,
        stack=stack,
        setup_failure=failure,
    )
    target.params = {
        "target": definition.id,
        "target_name": definition.name,
        **middleware_params(stack, definition.interface),
    }
    if target.variant:
        target.params["variant"] = target.variant
    return target


@contextmanager
def configuration_benches(
    capture: Capture,
    definitions: Sequence[ServerDefinition],
    settings: BenchmarkSettings,
    pinning: Pinning,
    progress: ServerProgress,
    upstream: UpstreamService | None,
    launch_grace: float,
) -> Iterator[list[tuple[ServerDefinition, ServerBench | None, str | None, str | None]]]:
    """Every configuration prepared at once (environment, scratch folder, fresh database),
    kept for all rounds: (definition, bench or None, version, why it could not be prepared)."""
    base_env = upstream.base_env() if upstream else {}
    endpoints = load_endpoints()
    prepared: list[tuple[ServerDefinition, ServerBench | None, str | None, str | None]] = []
    with ExitStack() as stack:
        for definition in definitions:
            environment: Environment | None = None
            progress.step(f"preparing {definition.id} (environment, database)")
            try:
                environment = ensure_environment(definition, capture.environments_dir)
                launcher, scratch = stack.enter_context(
                    prepared_launcher(
                        definition,
                        environment,
                        replace(capture.profile, stop_grace_s=launch_grace),
                        base_env,
                        "serving-django-interleaved-",
                        tuple(pinning.server_prefix()),
                    )
                )
            except InstallError as error:
                prepared.append((definition, None, None, f"not installed: {error}"[:2000]))
                continue
            except PrepareError as error:
                why = f"database preparation failed: {error.reason}"
                prepared.append((definition, None, server_version(definition, environment), why))
                continue
            bench = ServerBench(
                definition,
                launcher,
                settings,
                pinning,
                endpoints,
                scratch,
                progress,
                upstream,
                frozenset({SCENARIO}),
                capture.interrupted,
            )
            prepared.append((definition, bench, server_version(definition, environment), None))
        yield prepared


def interleaved_figures(
    capture: Capture,
    definitions: Sequence[ServerDefinition],
    granian: Environment | None,
    settings: BenchmarkSettings,
    pinning: Pinning,
    target_progress: ServerProgress,
    upstream: UpstreamService | None,
    scratch: Path,
    launch_grace: float,
) -> list[dict[str, Any]]:
    """Measure the rounds and turn them into figure records, references first."""
    rounds = InterleavedRounds(settings, pinning, scratch, target_progress, capture.interrupted)
    with configuration_benches(
        capture, definitions, settings, pinning, target_progress, upstream, launch_grace
    ) as prepared:
        targets = [rounds.reference_target(granian, interface) for interface in ("wsgi", "asgi")]
        # A configuration's stacks side by side in the list, so that the rotation usually
        # measures them one after the other: the same moment of the machine for both.
        for definition, bench, version, failure in prepared:
            for stack in settings.interleaved_middleware_stacks:
                if bench is None:
                    targets.append(stack_target(definition, stack, failure))
                else:
                    targets.append(rounds.configuration_target(bench, version, stack))
        target_progress.step(
            f"{settings.interleaved_rounds} to {settings.interleaved_max_rounds} rounds of "
            f"{len(targets)} targets (c={', '.join(map(str, settings.interleaved_clients))})"
        )
        repeats = rounds.run(targets)
    return figure_records(targets, repeats, settings, pinning, rounds.outcome)


def figure_records(
    targets: Sequence[Target],
    repeats: dict[tuple[str, int], list[Measurement]],
    settings: BenchmarkSettings,
    pinning: Pinning,
    outcome: RoundsOutcome | None = None,
) -> list[dict[str, Any]]:
    """One figure record per target and client count, in the targets' order, each with the
    rounds taken, why they stopped, and its reference's CV over them (``outcome``)."""
    records = []
    for target in targets:
        for clients in settings.interleaved_clients:
            measured = repeats[(target.id, clients)]
            rounds = {}
            if outcome is not None:
                rounds = {
                    "rounds_stopped": outcome.stopped,
                    "reference_cv_percent": outcome.reference_cv_percent.get(
                        (target.reference_id, clients)
                    ),
                }
            windows = [m.details["window_s"] for m in measured if m.details.get("window_s")]
            params = {
                **target.params,
                "reference": target.reference,
                "interface": target.interface,
                "compared_with": None if target.reference else target.reference_id,
                "tool": "h2load",
                "protocol": PROTOCOL,
                "clients": clients,
                "threads": 1,
                "duration_s": min(windows) if windows else settings.duration_s,
                "warmup_s": settings.warmup_s,
                # The rounds this figure was measured in (fewer if interrupted).
                "rounds": len(measured),
                **rounds,
                **pinning.as_record(),
                # A configuration at its production count; a reference app on one worker.
                "workers": target.params.get("workers", 1),
            }
            figure = target.figure(clients)
            if not measured:
                measured = [Measurement(failure="not measured: the capture was interrupted")]
            records.append(figure_record(SCENARIO, figure, params, measured))
    return records
