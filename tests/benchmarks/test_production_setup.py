"""The setup the benchmarks run and its variants: which variables each figure's server gets, on
which configurations the expensive variants run, and the causes a server's log names."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from harness.benchmarks import django_setup
from harness.benchmarks.pinning import Pinning
from harness.benchmarks.server_log import final_exceptions, server_errors
from harness.benchmarks.settings import BENCHMARK_SETTINGS
from harness.definitions import load_definitions
from harness.endpoints import load_endpoints
from tests import synthetic

# The modules (the package's names of the same spelling are the scenario functions).
locust_polls = importlib.import_module("harness.benchmarks.scenarios.locust_polls")
locust_upstream = importlib.import_module("harness.benchmarks.scenarios.locust_upstream")


def _bench(server_id: str, interface: str = "asgi", **definition: Any) -> SimpleNamespace:
    figures: list[dict] = []
    return SimpleNamespace(
        definition=synthetic.definition(server_id, interface=interface, **definition),
        settings=BENCHMARK_SETTINGS["standard"],
        pinning=Pinning(None, None),
        launcher=None,
        endpoints=load_endpoints(),
        upstream=SimpleNamespace(running=True, problem=None),
        figures=figures,
        add=figures.append,
    )


@pytest.fixture
def scenario_calls(monkeypatch) -> list[dict[str, Any]]:
    """Each figure a scenario asks for (name, parameters, the server's variables), with
    PostgreSQL and the Locust runs stood in for: what is under test is what each figure's
    server is started with."""
    calls: list[dict[str, Any]] = []

    def measured(bench, scenario, figure, locustfile, steps, params, *args, **kwargs):
        calls.append({"figure": figure, "params": params, "server_env": kwargs["server_env"]})

    @contextmanager
    def postgres(prefix=()) -> Iterator[SimpleNamespace]:
        yield SimpleNamespace(
            url="postgres://postgres@127.0.0.1:1/polls",
            process=SimpleNamespace(pid=1),
            as_record=lambda: {"server": "PostgreSQL"},
        )

    for module in (locust_polls, locust_upstream):
        monkeypatch.setattr(module, "_locust_scenario", measured)
    monkeypatch.setattr(locust_polls, "running_postgres", postgres)
    monkeypatch.setattr(locust_polls, "prepare_database", lambda launcher, env: None)
    return calls


def test_the_polls_reproduction_is_pooled_and_unpooled_on_a_declared_configuration(
    scenario_calls: list[dict[str, Any]],
) -> None:
    locust_polls.article_polls(_bench("uvicorn"))
    pooled, unpooled = scenario_calls
    assert pooled["figure"] == "polls vote, PostgreSQL behind nginx, pooled"
    assert pooled["server_env"]["DATABASE_POOL_MAX_SIZE"] == "10"  # no thread count: the bound
    assert pooled["server_env"]["DATABASE_POOL_TIMEOUT"] == "10"
    assert pooled["params"]["connections"] == "pooled"
    assert pooled["params"]["pool_max_size"] == 10 and pooled["params"]["pool_timeout_s"] == 10
    assert "variant" not in pooled["params"]
    assert unpooled["figure"] == "polls vote, PostgreSQL behind nginx"  # the name before pooling
    assert "DATABASE_POOL_MAX_SIZE" not in unpooled["server_env"]
    assert unpooled["server_env"]["DATABASE_URL"] == pooled["server_env"]["DATABASE_URL"]
    assert unpooled["params"]["connections"] == "unpooled"
    assert unpooled["params"]["variant"] == "unpooled"


def test_an_undeclared_configuration_runs_the_pooled_setup_only(
    scenario_calls: list[dict[str, Any]],
) -> None:
    locust_polls.article_polls(_bench("daphne"))
    assert [call["figure"] for call in scenario_calls] == [
        "polls vote, PostgreSQL behind nginx, pooled"
    ]


def test_the_pool_is_sized_to_the_threads_of_a_worker_process() -> None:
    threaded = SimpleNamespace(production_threads=8)
    assert django_setup.polls_pool_size(threaded) == 8
    assert django_setup.polls_pool_size(SimpleNamespace(production_threads=None)) == 10
    assert django_setup.polls_pool_size(synthetic.definition()) == 10  # not declared yet


def test_the_slow_upstream_reproduction_adds_the_shared_client_where_declared(
    scenario_calls: list[dict[str, Any]],
) -> None:
    locust_upstream.locust_upstream(_bench("gunicorn-gthread", interface="wsgi"))
    article, shared = scenario_calls
    assert article["figure"] == "upstream_threadpool"
    assert article["server_env"] == {"UPSTREAM_CLIENT": "per-request"}
    assert article["params"]["upstream_client"] == "per-request"
    assert "variant" not in article["params"]
    assert shared["figure"] == "upstream_threadpool, shared client"
    assert shared["server_env"] == {"UPSTREAM_CLIENT": "shared"}
    assert shared["params"]["upstream_client"] == "shared"
    assert shared["params"]["variant"] == "shared client"

    scenario_calls.clear()
    locust_upstream.locust_upstream(_bench("hypercorn"))
    assert [call["figure"] for call in scenario_calls] == ["upstream_async"]


def test_every_profile_declares_two_asgi_and_two_wsgi_configurations_for_each_variant() -> None:
    definitions = load_definitions()
    for name, settings in BENCHMARK_SETTINGS.items():
        for declared in (settings.polls_unpooled_servers, settings.upstream_shared_client_servers):
            if declared == (django_setup.EVERY_CONFIGURATION,):
                continue
            unknown = set(declared) - set(definitions)
            assert not unknown, f"{name}: no such configuration {unknown}"
            interfaces = [definitions[server].interface for server in declared]
            assert interfaces.count("asgi") >= 2 and interfaces.count("wsgi") >= 2, name
    standard = BENCHMARK_SETTINGS["standard"]
    assert standard.interleaved_middleware_stacks == ("production", "none")
    every = replace(standard, polls_unpooled_servers=("*",))
    assert django_setup.runs_variant(every.polls_unpooled_servers, "anything")
    assert not django_setup.runs_variant(standard.polls_unpooled_servers, "daphne")


def test_the_production_stack_names_its_static_files_middleware_per_interface() -> None:
    assert django_setup.middleware_env("production", "wsgi") == {
        "DJANGO_MIDDLEWARE_STACK": "production",
        "DJANGO_STATIC_MIDDLEWARE": "whitenoise",
    }
    assert django_setup.middleware_env("production", "asgi")["DJANGO_STATIC_MIDDLEWARE"] == (
        "servestatic"
    )
    assert django_setup.middleware_env("none", "asgi") == {"DJANGO_MIDDLEWARE_STACK": "none"}
    with pytest.raises(ValueError, match="unknown middleware stack 'minimal'"):
        django_setup.middleware_env("minimal", "asgi")


LOG = """\
2026-12-06 10:00:00,001 ERROR django.request pid=41 Internal Server Error: /polls/1/vote/
Traceback (most recent call last):
  File "/venv/psycopg_pool/pool.py", line 200, in getconn
    raise PoolTimeout(f"couldn't get a connection after {timeout:.2f} sec")
psycopg_pool.PoolTimeout: couldn't get a connection after 10.00 sec
2026-12-06 10:00:00,002 ERROR django.request pid=42 Internal Server Error: /polls/2/
Traceback (most recent call last):
  File "/venv/psycopg/connection.py", line 100, in connect
    raise last_ex.with_traceback(None)
psycopg.OperationalError: connection failed: port 54321 failed: FATAL:  too many clients

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/venv/django/core/handlers/exception.py", line 55, in inner
    response = get_response(request)
               ^^^^^^^^^^^^^^^^^^^^^
django.db.utils.OperationalError: connection failed: port 54321 failed: FATAL:  too many clients
2026-12-06 10:00:00,003 ERROR django.request pid=41 Internal Server Error: /polls/1/vote/
Traceback (most recent call last):
  File "/venv/psycopg_pool/pool.py", line 200, in getconn
psycopg_pool.PoolTimeout: couldn't get a connection after 10.00 sec
"""


def test_the_server_log_gives_each_traceback_its_final_exception_once() -> None:
    assert final_exceptions(LOG) == {
        "psycopg_pool.PoolTimeout: couldn't get a connection after 10.00 sec": 2,
        "django.db.utils.OperationalError: connection failed: port N failed: FATAL:  too many "
        "clients": 1,
    }
    assert server_errors(LOG, top=1) == [
        {"error": "psycopg_pool.PoolTimeout: couldn't get a connection after 10.00 sec", "count": 2}
    ]
    assert server_errors("ready\n") == []
