"""Sentences that state how the shown figures were measured (windows, client counts, rounds,
timeouts, Locust's steps), built from the settings their files record: a page never types a
number that a data file already says, so a page cannot say 1 s where its files say 5 s.

Each fact is taken from the files that hold shown figures of the scenarios it is about. Where
those files agree, the fact is one phrase; where they differ (captures made with other
settings), it is one phrase per distinct value, each naming its captures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from generators.benchmarks.figure import PERCENTILES
from generators.benchmarks.figures import BenchmarkFile, Benchmarks, MachineBenchmarks

Settings = dict[str, Any]


def and_list(items: Iterable[Any]) -> str:
    """ "1, 200 and 500"; "200"; "" for none."""
    texts = [str(item) for item in items]
    if len(texts) <= 1:
        return "".join(texts)
    return f"{', '.join(texts[:-1])} and {texts[-1]}"


def _seconds(value: Any) -> str:
    return f"{value:g} s"


def _files_of(benchmarks: Benchmarks, scenarios: tuple[str, ...]) -> list[BenchmarkFile]:
    """The shown files with a shown figure of one of ``scenarios``."""
    return [
        file
        for machine in benchmarks.machines
        for file in machine.shown_files()
        if any(figure.record["scenario"] in scenarios for figure in file.figures)
    ]


def _stated(
    files: list[BenchmarkFile], phrase: Callable[[Settings], str | None], empty: str = ""
) -> str:
    """``phrase`` of the files' settings: one phrase if they agree, else each with the
    captures it comes from; ``empty`` when no file records what ``phrase`` needs."""
    captures: dict[str, set[str]] = {}
    for file in files:
        text = phrase(file.document.get("settings") or {})
        if text:
            captures.setdefault(text, set()).add(file.document["capture"])
    if not captures:
        return empty
    if len(captures) == 1:
        return next(iter(captures))
    return "; ".join(
        f"{text} (capture{'s' if len(ids) > 1 else ''} {', '.join(sorted(ids))})"
        for text, ids in sorted(captures.items(), key=lambda item: min(item[1]))
    )


def window_phrase(settings: Settings) -> str | None:
    """How long an h2load window lasts under these settings."""
    if "duration_s" not in settings or "warmup_s" not in settings:
        return None
    window, warmup = _seconds(settings["duration_s"]), _seconds(settings["warmup_s"])
    base = f"at least {window} after {warmup} of warm-up"
    per_client = settings.get("window_requests_per_client")
    if not per_client:
        return base.replace("at least ", "") + " (no window rule)"
    return (
        f"{base}, long enough for every client to complete {per_client:g} requests at the rate "
        f"a {_seconds(settings['window_probe_s'])} probe answered, up to "
        f"{_seconds(settings['max_window_s'])}"
    )


def h2load_plan_phrase(settings: Settings) -> str | None:
    """Which h2load figures these settings ask for."""
    names = ("clients", "other_endpoint_clients", "other_protocol_clients")
    if not all(name in settings for name in names):
        return None
    other = and_list(settings.get("other_protocol_endpoints") or [])
    return (
        f"each configuration's own JSON view over HTTP/1.1 (json_sync under WSGI, json_async "
        f"under ASGI) at {and_list(settings['clients'])} clients, its other views over HTTP/1.1 "
        f"at {and_list(settings['other_endpoint_clients'])}, and {other} over the other "
        f"protocols at {and_list(settings['other_protocol_clients'])}"
    )


def rounds_phrase(settings: Settings) -> str | None:
    """How many interleaved rounds these settings take."""
    least = settings.get("interleaved_rounds")
    if least is None:
        return None
    most = settings.get("interleaved_max_rounds")
    limit = settings.get("interleaved_reference_cv_percent")
    if most is None or limit is None or most <= least:
        return f"{least} rounds"
    return (
        f"at least {least} rounds, and more, up to {most}, while a reference app's answered/s "
        f"varies between rounds by {limit:g} % (CV) or more"
    )


def _steps_text(steps: list[list[float]]) -> str:
    users = [int(users) for users, _ in steps]
    seconds = sorted({float(seconds) for _, seconds in steps})
    span = f"{users[0]}" if len(users) == 1 else f"from {users[0]} to {users[-1]}"
    each = and_list(_seconds(value) for value in seconds)
    count = f"{len(steps)} step{'s' if len(steps) != 1 else ''} of {each}"
    return f"{span} users ({count})"


def upstream_phrase(settings: Settings) -> str | None:
    names = ("upstream_steps", "upstream_spawn_rate", "upstream_ramp_s", "upstream_timeout_s")
    if not all(settings.get(name) is not None for name in names):
        return None
    return (
        f"{_steps_text(settings['upstream_steps'])}, arriving at "
        f"{settings['upstream_spawn_rate']:g} a second, the first "
        f"{_seconds(settings['upstream_ramp_s'])} of each step (the ramp) left out, and a "
        f"{_seconds(settings['upstream_timeout_s'])} request timeout"
    )


def polls_phrase(settings: Settings) -> str | None:
    names = ("polls_article_steps", "polls_article_ramp_s", "polls_article_timeout_s")
    if not all(settings.get(name) is not None for name in names):
        return None
    return (
        f"{_steps_text(settings['polls_article_steps'])}, the first "
        f"{_seconds(settings['polls_article_ramp_s'])} of each step left out, and a "
        f"{_seconds(settings['polls_article_timeout_s'])} request timeout"
    )


def _setting(name: str, shown: Callable[[Any], str] = str) -> Callable[[Settings], str | None]:
    return lambda settings: None if settings.get(name) is None else shown(settings[name])


def settings_facts(benchmarks: Benchmarks) -> dict[str, str]:
    """Every fact the methodology page states about the shown figures' settings; "" where no
    shown file records it (the page then says it is not recorded)."""
    h2load = _files_of(benchmarks, ("h2load", "interleaved", "convergence"))
    return {
        "windows": _stated(h2load, window_phrase),
        "h2load_plan": _stated(_files_of(benchmarks, ("h2load",)), h2load_plan_phrase),
        "rounds": _stated(_files_of(benchmarks, ("interleaved",)), rounds_phrase),
        "convergence_factor": _stated(
            _files_of(benchmarks, ("convergence",)), _setting("convergence_factor", "{:g}".format)
        ),
        "fixed_rate_fractions": _stated(
            _files_of(benchmarks, ("fixed-rate-latency",)),
            _setting(
                "fixed_rate_fractions",
                lambda fractions: and_list(f"{fraction * 100:g} %" for fraction in fractions),
            ),
        ),
        "fixed_rate_connections": _stated(
            _files_of(benchmarks, ("fixed-rate-latency",)), _setting("fixed_rate_connections")
        ),
        "upstream": _stated(_files_of(benchmarks, ("locust-upstream",)), upstream_phrase),
        "polls": _stated(_files_of(benchmarks, ("locust-polls",)), polls_phrase),
        "locust_timeout": _stated(
            _files_of(benchmarks, ("locust-polls",)), _setting("locust_timeout_s", _seconds)
        ),
    }


def window_findings(benchmarks: Benchmarks) -> str:
    """What the windows of the shown h2load figures could not observe, counted from them: the
    latency cells cut off by their window and those with too few requests above them, with the
    client counts and windows they occurred at."""
    cut: list[tuple[int, float]] = []
    few: list[int] = []
    for machine in benchmarks.machines:
        for figure in machine.figures("h2load"):
            if not figure.ok:
                continue
            for name in (*PERCENTILES, "latency_max_ms"):
                why = figure.unobservable(name)
                if why is None:
                    continue
                clients = figure.params.get("clients")
                if why.startswith("cut off"):
                    cut.append((clients, figure.params.get("duration_s")))
                else:
                    few.append(clients)
    if not cut and not few:
        return "No shown h2load latency was cut off by its window or had too few requests above it."
    parts = []
    if cut:
        windows = and_list(_seconds(w) for w in sorted({w for _, w in cut if w is not None}))
        clients = and_list(sorted({c for c, _ in cut if c is not None}))
        parts.append(
            f"{len(cut)} latency cell{'s' if len(cut) != 1 else ''} "
            f"{'are' if len(cut) != 1 else 'is'} cut off by the window (at {clients} clients, "
            f"in windows of {windows})"
        )
    if few:
        counts = sorted({c for c in few if c is not None})
        parts.append(
            f"{len(few)} {'have' if len(few) != 1 else 'has'} too few requests above "
            f"{'them' if len(few) != 1 else 'it'} (at {and_list(counts)} "
            f"client{'' if counts == [1] else 's'})"
        )
    return "; ".join(parts) + "."


def h2load_plan(machine: MachineBenchmarks, scenario: str = "h2load") -> str:
    """What the settings of one machine's shown h2load files asked the scenario to measure."""
    files = [
        file
        for file in machine.files
        if any(figure.record["scenario"] == scenario for figure in file.figures)
    ]
    return _stated(files, h2load_plan_phrase)


def upstream_delays(benchmarks: Benchmarks) -> list[int]:
    """The upstream calls' delays (ms) the shown slow-upstream figures record, where they all
    record the same; [] otherwise."""
    found = {
        tuple(figure.params["upstream_delays_ms"])
        for machine in benchmarks.machines
        for figure in machine.figures("locust-upstream")
        if figure.params.get("upstream_delays_ms")
    }
    return list(next(iter(found))) if len(found) == 1 else []


def template_globals() -> dict[str, Any]:
    return {"h2load_plan": h2load_plan, "and_list": and_list, "upstream_delays": upstream_delays}
