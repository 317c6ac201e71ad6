"""The Development checks tell a helpful development server from one that serves no static
files, caches templates for ever and ignores code changes (tests/apps/dev_server.py, synthetic),
and agree with Django's runserver (end to end, real environment)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.checks import CheckContext, run_check
from harness.checks.development import CHECKS, code_reload, template_reload, write_stall
from harness.checks.development.code_reload import with_changed_message
from harness.checks.development.static import judge_static, stylesheet_hrefs
from harness.checks.development.template_reload import judge_template, with_template_marker
from harness.definitions import ServerDefinition
from harness.endpoints import SAMPLEPROJECT_DIR, load_endpoints
from harness.environments import Environment
from harness.launcher import Launcher
from harness.network import make_tls_material
from harness.profiles import PROFILES
from tests import synthetic

BY_ID = {check.id: check for check in CHECKS}
APP = Path(__file__).parents[1] / "apps" / "dev_server.py"


def tiny_definition(mode: str, *, reload: bool = True) -> ServerDefinition:
    command = ("{python}", str(APP), "{port}", mode)
    return synthetic.definition(
        f"dev-{mode}",
        name=f"dev server ({mode})",
        mode="development",
        docs="http://127.0.0.1/docs",
        commands={"http": command, **({"reload": command} if reload else {})},
    )


@contextmanager
def started(server: ServerDefinition, environment: Environment, scratch: Path) -> Iterator:
    """A CheckContext with the server's shared instance and a launcher for its variants."""
    launcher = Launcher(
        server, environment, scratch, PROFILES["quick"], make_tls_material(scratch / "tls")
    )
    with launcher.launch("http") as shared:
        yield CheckContext(server, load_endpoints(), PROFILES["quick"], shared, launcher)


@pytest.fixture
def dev_server(tmp_path: Path):
    def start(mode: str, *, reload: bool = True):
        environment = Environment(Path(sys.prefix), "synthetic", {})
        return started(tiny_definition(mode, reload=reload), environment, tmp_path / mode)

    return start


@pytest.fixture
def no_settling(monkeypatch: pytest.MonkeyPatch) -> None:
    """The synthetic server watches its files from its first moment."""
    monkeypatch.setattr(template_reload, "SETTLE_BEFORE_EDIT_S", 0.3)
    monkeypatch.setattr(code_reload, "SETTLE_BEFORE_EDIT_S", 0.3)


@pytest.fixture
def short_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that never changes is the same after 1.5 s as after 10 s."""
    monkeypatch.setattr(code_reload, "CODE_WINDOW_S", 1.5)
    monkeypatch.setattr(template_reload, "TEMPLATE_WINDOW_S", 1.5)


def test_a_helpful_dev_server_passes_every_development_check(dev_server, no_settling) -> None:
    with dev_server("friendly") as context:
        results = {check.id: run_check(check, context) for check in CHECKS}
    assert {key: value["outcome"] for key, value in results.items()} == {
        "dev-static": "yes",
        "dev-template-reload": "yes",
        "dev-code-reload": "yes",
        "dev-write-stall": "yes",
    }, {key: value["summary"] for key, value in results.items()}
    assert results["dev-write-stall"]["evidence"]["diagnosis"] == "none"
    static = results["dev-static"]["evidence"]
    assert static["stylesheet_path"] == "/static/demo/style.css"
    assert static["status"] == 200 and static["size_bytes"] > 0
    assert static["instance"]["dev_mode"] is True
    assert results["dev-template-reload"]["evidence"]["instance"]["project"] == "scratch copy"
    assert results["dev-code-reload"]["evidence"]["found_after_s"] is not None
    # The checks edit scratch copies only.
    assert "serving-django-" not in (SAMPLEPROJECT_DIR / "demo/views/basic.py").read_text()


def test_a_server_without_static_files_or_reloading_gets_no(
    dev_server, no_settling, short_windows
) -> None:
    with dev_server("unfriendly") as context:
        results = {check.id: run_check(check, context) for check in CHECKS}
    assert {key: value["outcome"] for key, value in results.items()} == {
        "dev-static": "no",
        "dev-template-reload": "no",
        "dev-code-reload": "no",
        "dev-write-stall": "no",
    }, {key: value["summary"] for key, value in results.items()}
    assert results["dev-static"]["evidence"]["status"] == 404
    assert "WhiteNoise" in results["dev-static"]["summary"]
    # Headers, then body, with Nagle's algorithm on: the body waits for the delayed ACK.
    assert results["dev-write-stall"]["evidence"]["diagnosis"] == "server-nagle"
    assert results["dev-template-reload"]["evidence"]["attempt_count"] > 1  # it retried
    assert results["dev-code-reload"]["evidence"]["found_after_s"] is None


def test_a_worker_that_had_not_rendered_the_page_is_not_taken_for_a_reload(
    dev_server, no_settling, short_windows
) -> None:
    # Two "workers" that each keep the template they first rendered: one request before the
    # edit would warm one of them, and the other would show the change as if reloaded.
    with dev_server("two-workers") as context:
        result = run_check(BY_ID["dev-template-reload"], context)
    assert result["outcome"] == "no", result["summary"]
    assert result["evidence"]["before"]["requests"] >= 2  # each worker rendered it first


def test_a_stylesheet_with_the_wrong_type_is_partial(dev_server) -> None:
    with dev_server("wrong-type", reload=False) as context:
        static = run_check(BY_ID["dev-static"], context)
        code = run_check(BY_ID["dev-code-reload"], context)
    assert static["outcome"] == "partial", static["summary"]
    assert code["outcome"] == "not-applicable"
    assert "no option to reload" in code["summary"]


@pytest.mark.servers
def test_runserver_serves_static_files_and_reloads(
    tmp_path: Path, runserver: tuple[ServerDefinition, Environment]
) -> None:
    server, environment = runserver
    with started(server, environment, tmp_path) as context:
        results = {check.id: run_check(check, context) for check in CHECKS}
    assert {key: value["outcome"] for key, value in results.items()} == {
        "dev-static": "yes",
        "dev-template-reload": "yes",
        "dev-code-reload": "yes",
        "dev-write-stall": "no",
    }, {key: value["summary"] for key, value in results.items()}
    # runserver's small writes wait for the client's delayed ACK: the client's quick ACKs, not
    # its TCP_NODELAY, remove the wait, and the status line arrives alone.
    stall = results["dev-write-stall"]["evidence"]
    assert stall["diagnosis"] == "server-nagle"
    status_line = b"HTTP/1.1 200 OK\r\n"
    assert stall["settings"]["plain"]["last_reads"][0]["bytes"] == len(status_line)


def test_the_edits_land_where_django_renders_them() -> None:
    template = (SAMPLEPROJECT_DIR / "demo/templates/demo/home.html").read_text()
    marked = with_template_marker(template, "MARK")
    assert marked.index("MARK") < marked.rindex("{% endblock %}")  # inside the block
    source = (SAMPLEPROJECT_DIR / "demo/views/basic.py").read_text()
    changed = with_changed_message(source, "MARK")
    assert changed is not None and '{"message": "MARK", "view": "sync"}' in changed
    assert with_changed_message("nothing here", "MARK") is None


def test_thresholds() -> None:
    page = '<link href="/a.css" rel="stylesheet"><link rel="icon" href="/i.png">'
    assert stylesheet_hrefs(page) == ["/a.css"]
    assert judge_static(200, "text/css; charset=utf-8") == "yes"
    assert judge_static(200, "text/plain") == "partial"
    assert judge_static(404, "text/html") == "no"
    assert judge_static(None, "") == "no"
    assert judge_template(0.4, restarted=False) == "yes"
    assert judge_template(0.4, restarted=True) == "partial"
    assert judge_template(None, restarted=False) == "no"


def _stall_evidence(plain: float | None, nodelay: float, quick: float) -> dict:
    """SYNTHETIC: the three clients' medians, and the plain client's last answer in two reads."""
    medians = {"plain": plain, "client-nodelay": nodelay, "client-quickack": quick}
    return {
        "settings": {
            name: {
                "setting": name,
                "meaning": write_stall.CLIENT_SETTINGS[name],
                "median_ms": median,
                "last_reads": [{"bytes": 17, "at_ms": 1.0}, {"bytes": 290, "at_ms": 44.0}],
                "last_read_count": 2,
                **({} if median is not None else {"error": "ConnectionResetError: reset"}),
            }
            for name, median in medians.items()
        },
        "requests": write_stall.REQUESTS,
    }


@pytest.mark.parametrize(
    ("medians", "outcome", "diagnosis"),
    [
        ((1.2, 1.1, 1.0), "yes", "none"),
        ((44.0, 44.0, 0.6), "no", "server-nagle"),  # runserver's shape (Nagle + delayed ACK)
        ((120.0, 118.0, 119.0), "no", "other"),  # slow, but immediate ACKs do not help
        ((None, 1.0, 1.0), "error", None),
    ],
)
def test_the_stall_is_diagnosed_from_the_three_clients(
    medians: tuple, outcome: str, diagnosis: str | None
) -> None:
    evidence = _stall_evidence(*medians)
    found, summary = write_stall.judge(evidence)
    assert (found, evidence["diagnosis"]) == (outcome, diagnosis), summary
    if diagnosis == "server-nagle":
        assert "first 17 bytes arrived at once and the next 43.0 ms later" in summary
    assert diagnosis in write_stall.DIAGNOSES or diagnosis is None


def test_the_stall_check_leaves_production_configurations_alone(tmp_path: Path) -> None:
    production = synthetic.definition("prod", mode="production")
    context = CheckContext(production, load_endpoints(), PROFILES["quick"], None)  # type: ignore[arg-type]
    assert write_stall.run(context).outcome == "not-applicable"
