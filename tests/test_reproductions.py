"""The article tables beside ours: rows matched to our figures, and the sentences that say
where we agree, computed from (synthetic) figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generators.benchmarks import reproductions
from generators.benchmarks.figure import Figure
from generators.benchmarks.reproductions import (
    SourceError,
    article_for,
    compared_rows,
    findings,
)


def upstream_figure(
    server: str, variant: str, answered: float, cpu: float = 50.0, ok: bool = True
) -> Figure:
    """A SYNTHETIC locust-upstream figure with a steady step of 100 users."""
    metrics: dict[str, Any] = {
        "step100_answered_per_s": answered,
        "step100_latency_p95_ms": 100_000 / answered,
        "step100_failures_percent": 0.0,
        "step100_server_cpu_percent": cpu,
    }
    params = {"variant": variant} if variant else {}
    return Figure(
        record={"status": "ok" if ok else "failed", "params": params, "metrics": metrics},
        server={"id": server, "name": server},
        machine="m",
        capture="20261202T000000Z",
        profile="standard",
        source="benchmarks/m/x.json",
        has_page=True,
        ceiling=None,
        tool_protocol=None,
    )


ARTICLE_CONFIGURATIONS = [
    ("uwsgi-threads", "threads-2"),
    ("uwsgi-threads", "threads-100"),
    ("uwsgi-gevent", ""),
    ("gunicorn-gthread", "threads-100"),
    ("gunicorn-gevent", ""),
    ("uvicorn", ""),
]


def figures_with(rates: dict[tuple[str, str], float], cpu: float = 50.0) -> list[Figure]:
    return [
        upstream_figure(server, variant, rates.get((server, variant), 150.0), cpu)
        for server, variant in ARTICLE_CONFIGURATIONS
    ]


def test_every_article_row_finds_our_figure_of_the_same_configuration() -> None:
    article = article_for("locust-upstream")
    assert article is not None
    rows = compared_rows(article, figures_with({}))
    assert [(row.figure.server["id"], row.figure.params.get("variant", "")) for row in rows] == (
        ARTICLE_CONFIGURATIONS
    )
    assert rows[0].article.figures["max_rps"] == 3  # the article's small pool


def test_the_small_pool_collapsing_agrees_with_the_article() -> None:
    article = article_for("locust-upstream")
    rates = {("uwsgi-threads", "threads-2"): 3.2}
    sentences = findings(compared_rows(article, figures_with(rates)))
    assert "answered 3.2 a second" in sentences[0]
    assert all(": agrees with the article" in sentence for sentence in sentences[1:])
    assert len(sentences) == 6


def test_a_configuration_that_does_not_cope_differs_with_its_measured_reason() -> None:
    article = article_for("locust-upstream")
    rates = {("uwsgi-threads", "threads-2"): 3.2, ("uvicorn", ""): 20.0}
    sentences = findings(compared_rows(article, figures_with(rates, cpu=99.0)))
    uvicorn = next(sentence for sentence in sentences if sentence.startswith("Uvicorn"))
    assert "differs with the article" in uvicorn
    assert "CPU-bound" in uvicorn  # the measurement that explains it


def test_a_missing_figure_is_said_not_compared() -> None:
    article = article_for("locust-upstream")
    figures = figures_with({})[1:]  # no 2-thread figure in this capture
    sentences = findings(compared_rows(article, figures))
    assert sentences == ["Not compared: no successful figure here for uWSGI, 1 process, 2 threads."]


def test_a_malformed_source_file_is_named(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "broken.toml").write_text('scenario = "x"\n[[rows]]\nlabel = "a"\n')
    monkeypatch.setattr(reproductions, "SOURCES_DIR", tmp_path)
    reproductions.articles.cache_clear()
    try:
        with pytest.raises(SourceError, match=r"broken\.toml"):
            reproductions.articles()
    finally:
        reproductions.articles.cache_clear()


def polls_figure(server: str, interface: str, failures: dict[int, float]) -> Figure:
    """A SYNTHETIC polls figure of the article's setup."""
    metrics = {f"step{users}_failures_percent": value for users, value in failures.items()}
    return Figure(
        record={"status": "ok", "params": {"database": "PostgreSQL"}, "metrics": metrics},
        server={"id": server, "name": server, "interface": interface},
        machine="m",
        capture="20261202T000000Z",
        profile="standard",
        source="benchmarks/m/x.json",
        has_page=True,
        ceiling=None,
        tool_protocol=None,
    )


def test_the_wsgi_and_asgi_rows_are_medians_of_their_configurations() -> None:
    figures = [
        polls_figure("a", "wsgi", {100: 0.0, 700: 10.0}),
        polls_figure("b", "wsgi", {100: 0.0, 700: 50.0}),
        polls_figure("c", "wsgi", {100: 2.0}),  # stopped before 700 users
        polls_figure("d", "asgi", {100: 0.0, 700: 5.0}),
    ]
    rows = reproductions.interface_failures(figures, [100, 700])
    assert rows == {"WSGI": {100: 0.0, 700: 30.0}, "ASGI": {100: 0.0, 700: 5.0}}


def test_the_polls_article_is_quoted_with_seven_steps_per_interface() -> None:
    article = article_for("locust-polls")
    assert article is not None
    assert sorted(article.failures_by_users) == ["ASGI", "WSGI"]
    assert list(article.failures_by_users["WSGI"]) == [100, 200, 300, 400, 500, 600, 700]
    assert article.failures_by_users["WSGI"][700] == 50


def test_the_polls_findings_say_when_each_interface_fails_and_why() -> None:
    article = article_for("locust-polls")
    assert article is not None
    failing = polls_figure("d", "asgi", {100: 0.0, 300: 20.0, 700: 60.0})
    failing.record["metrics"].update(
        step700_server_cpu_percent=70.0, step700_postgres_connections_peak=100
    )
    failing.record["repeats"] = [
        {"failure_messages": [{"message": "vote form: answered 500", "count": 42}]}
    ]
    holding = polls_figure("w", "wsgi", {100: 0.0, 300: 0.0, 700: 0.0})
    holding.record["metrics"].update(
        step700_latency_p50_ms=7000.0, step700_postgres_connections_peak=1
    )
    sentences = reproductions.polls_findings(article, [failing, holding], [100, 300, 700])
    assert sentences[0].endswith(
        "Here (the median configuration of each interface): "
        "WSGI never, up to 700 users, ASGI from 300 users."
    )
    assert "vote form: answered 500 (42)" in sentences[1]
    # Counted the old way (no per-CPU shares): the server's own 70 % cannot clear it.
    assert sentences[2].startswith("Measured the old way (d): only the processes alive")
    assert "cannot say whether the server's CPU was saturated" in sentences[2]
    assert "up to 100 client connections" in sentences[3] and "at most 1 under" in sentences[3]
    assert "answered in 7.0 s (median, w)" in sentences[4]


def test_the_polls_findings_judge_saturation_by_the_server_s_cpu() -> None:
    article = article_for("locust-polls")
    assert article is not None
    failing = polls_figure("d", "asgi", {100: 0.0, 700: 60.0})
    failing.record["params"] |= {
        "cpu_accounting": "reaped children, /proc/stat",
        "cpu_affinity": {"locust": [1], "postgres": [0], "server": [0]},
    }
    failing.record["metrics"].update(
        step700_server_cpu_percent=40.0,  # the server's own share: nginx and PostgreSQL add
        step100_cpu0_busy_percent=50.0,
        step700_cpu0_busy_percent=80.0,
        step700_cpu0_steal_percent=0.5,
        step700_cpu1_busy_percent=99.0,  # Locust's CPU: not the server's
    )
    sentences = reproductions.saturation_sentences([failing])
    assert sentences == [
        "None of them saturated the CPU the server ran on: the busiest, d, kept CPU 0 (server "
        "and PostgreSQL) 80 % busy at 700 users, so their errors are not the cost of running "
        "out of CPU."
    ]
    # The same server's CPU saturated, and robbed by the hypervisor: never "to spare".
    failing.record["metrics"].update(step700_cpu0_busy_percent=95.0, step700_cpu0_steal_percent=4.0)
    sentences = reproductions.saturation_sentences([failing])
    assert sentences[0].startswith("The CPU the server ran on had no time left")
    assert "d: CPU 0 (server and PostgreSQL) 95 % busy at 700 users" in sentences[0]
    assert sentences[1] == "The hypervisor stole up to 4.0 % of that CPU in those steps."
    assert not any("not the cost" in sentence for sentence in sentences)
