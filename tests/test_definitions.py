"""Server definitions: the committed ones are the configurations below; broken ones are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence.layout import DEFAULT_DATA_DIR
from evidence.validation import load_evidence
from harness.definitions import DefinitionError, fill_command, load_definitions
from harness.help_text import absent_claims_contradicted
from harness.validate import validate

EXPECTED_IDS = {
    "runserver",
    "runserver-daphne",
    "gunicorn-sync",
    "gunicorn-gthread",
    "gunicorn-gevent",
    "gunicorn-uvicorn",
    "gunicorn-asgi",
    "uwsgi-threads",
    "uwsgi-gevent",
    "uvicorn",
    "daphne",
    "hypercorn",
    "granian-asgi",
    "granian-wsgi",
    "waitress",
    "mod-wsgi-express",
}

VALID = """
id = "{id}"
name = "Tiny"
interface = "wsgi"
mode = "production"
summary = "A test server."
homepage = "https://example.org/"
docs = "https://example.org/docs"
requirements = ["tiny==1.0"]
stop_signal = "SIGTERM"
[production]
workers_per_cpu = 2
workers_plus = 1
serves = "threads"
threads = 4
rule = "(2 x CPU cores) + 1 workers of 4 threads"
docs = "https://example.org/docs/workers"
[commands]
http = ["tiny", "--bind", "{{host}}:{{port}}", "-w", "{{workers}}", "--threads", "{{threads}}"]
"""


def test_the_committed_definitions_are_the_configurations() -> None:
    definitions = load_definitions()
    assert set(definitions) == EXPECTED_IDS
    for definition in definitions.values():
        assert definition.commands["http"], definition.id
        assert all("==" in requirement for requirement in definition.requirements)
    assert {d.id for d in definitions.values() if d.mode == "development"} == {
        "runserver",
        "runserver-daphne",
    }


def test_a_valid_definition_loads(tmp_path: Path) -> None:
    (tmp_path / "tiny.toml").write_text(VALID.format(id="tiny"))
    definition = load_definitions(tmp_path)["tiny"]
    assert definition.package == "tiny"
    values = {"host": "127.0.0.1", "port": "9", "workers": "3", "threads": "4"}
    assert fill_command(definition.commands["http"], values) == [
        "tiny",
        "--bind",
        "127.0.0.1:9",
        "-w",
        "3",
        "--threads",
        "4",
    ]


def test_a_variant_is_a_command_of_its_own_kind(tmp_path: Path) -> None:
    variant = '[variants.threads-100]\nlabel = "100 threads"\ncommand = ["tiny", "-t", "100"]\n'
    (tmp_path / "tiny.toml").write_text(VALID.format(id="tiny") + variant)
    definition = load_definitions(tmp_path)["tiny"]
    assert definition.variants["threads-100"].label == "100 threads"
    assert definition.argv("variant:threads-100") == ("tiny", "-t", "100")
    assert definition.argv("http")[:3] == ("tiny", "--bind", "{host}:{port}")
    assert definition.argv("variant:threads-2") is None
    assert definition.argv("tls") is None


def test_the_slow_upstream_articles_thread_counts_are_declared() -> None:
    definitions = load_definitions()
    uwsgi = definitions["uwsgi-threads"].variants
    assert set(uwsgi) == {"threads-2", "threads-100"}
    assert (uwsgi["threads-2"].threads, uwsgi["threads-100"].threads) == (2, 100)
    assert set(definitions["gunicorn-gthread"].variants) == {"threads-100"}
    # A variant's pool is data: its command takes it through {threads}, and its capacity
    # (what the slow-upstream page checks rates against) follows from it.
    uwsgi_threads = definitions["uwsgi-threads"]
    assert uwsgi_threads.requests_at_once("variant:threads-2", 1) == 2
    assert uwsgi_threads.requests_at_once("http", 1) == uwsgi_threads.production_threads
    assert definitions["uvicorn"].requests_at_once("http", 1) is None  # an event loop
    for definition in definitions.values():
        for variant in definition.variants.values():
            assert variant.threads is None or "{threads}" in " ".join(variant.command)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda text: text.replace('interface = "wsgi"', 'interface = "cgi"'),
            "interface: 'cgi' is not one of",
        ),
        (lambda text: text.replace('"tiny==1.0"', '"tiny>=1"'), "requirements: pin every"),
        (lambda text: text.replace("{port}", "{prot}"), "unknown placeholder(s) ['prot']"),
        (lambda text: 'colour = "red"\n' + text, "colour: unknown key"),
        (lambda text: text.replace('name = "Tiny"\n', ""), "name: missing"),
        (
            lambda text: text.replace("[commands]\nhttp", "[commands]\nhttp3"),
            "commands.http: missing",
        ),
        (
            lambda text: text.replace('"https://example.org/docs"', '"javascript:x"'),
            "docs: 'javascript:x' must be an http(s) URL",
        ),
        (lambda text: text.replace('id = "tiny"', 'id = "other"'), "must equal the file name"),
        (lambda text: text + "[[", "cannot read TOML"),
        (
            lambda text: text + '[variants.big]\ncommand = ["tiny", "{port}"]\n',
            "variants.big.label: a non-empty string is required",
        ),
        (
            lambda text: text + '[variants.big]\nlabel = "Big"\ncommand = []\n',
            "variants.big.command: must be a non-empty list of strings",
        ),
        (
            lambda text: text + '[variants.Big]\nlabel = "B"\ncommand = ["tiny", "{prot}"]\n',
            "variants.Big.command: '{prot}' uses unknown placeholder(s) ['prot']",
        ),
        (
            lambda text: text + '[variants.big]\nlabel = "B"\ncommand = ["t"]\ncolour = 4\n',
            "variants.big.colour: unknown key",
        ),
        (
            lambda text: text + '[variants.big]\nlabel = "B"\ncommand = ["t"]\nthreads = 0\n',
            "variants.big.threads: 0 must be a whole number of at least 1",
        ),
    ],
)
def test_a_broken_definition_is_reported_with_file_and_field(
    tmp_path: Path, change, message: str
) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(change(VALID.format(id="tiny")))
    (tmp_path / "fine.toml").write_text(VALID.format(id="fine"))
    with pytest.raises(DefinitionError) as failure:
        load_definitions(tmp_path)
    assert str(path) in str(failure.value)
    assert message in str(failure.value)


def test_every_broken_file_is_reported_in_one_go(tmp_path: Path) -> None:
    (tmp_path / "one.toml").write_text("id = 1")
    (tmp_path / "two.toml").write_text("id = 2")
    with pytest.raises(DefinitionError) as failure:
        load_definitions(tmp_path)
    assert "one.toml" in str(failure.value) and "two.toml" in str(failure.value)


def test_every_problem_is_reported_even_when_a_field_has_the_wrong_type(tmp_path: Path) -> None:
    """A missing field used to hide the value checks: an unknown command kind went unreported."""
    (tmp_path / "broken.toml").write_text(
        'id = "broken"\nname = "Broken"\ninterface = "cgi"\nmode = "production"\n'
        'summary = "s"\nhomepage = "https://example.org/"\ndocs = "https://example.org/"\n'
        "requirements = []\nstop_signal = 15\n"
        '[commands]\nhttp = ["x", "{port}"]\nhttps = ["x"]\n'
    )
    with pytest.raises(DefinitionError) as failure:
        load_definitions(tmp_path)
    path = tmp_path / "broken.toml"
    assert failure.value.problems == [
        f"{path}: stop_signal: expected str, got 15",
        f"{path}: production: missing",
        f"{path}: interface: 'cgi' is not one of ('wsgi', 'asgi')",
        f"{path}: commands.https: unknown command kind "
        "(allowed: http, tls, http2_tls, h2c, reload, http3)",
    ]


def test_validate_counts_one_problem_per_problem(tmp_path: Path) -> None:
    servers = tmp_path / "servers"
    servers.mkdir()
    (servers / "broken.toml").write_text('id = "broken"\n')
    problems = validate(tmp_path / "data", servers, known_checks=set())
    definition_lines = [line for line in problems if "broken.toml" in line]
    assert all(line.startswith(f"{servers / 'broken.toml'}: ") for line in definition_lines)
    assert len(definition_lines) == 10  # name, interface ... production: missing, one line each


# ---- production sizing -------------------------------------------------------------------


def test_production_sizing_follows_the_declared_rule(tmp_path: Path) -> None:
    (tmp_path / "tiny.toml").write_text(VALID.format(id="tiny"))
    definition = load_definitions(tmp_path)["tiny"]
    assert [definition.production_workers(cores) for cores in (1, 2, 4)] == [3, 5, 9]
    assert definition.production_threads == 4
    assert definition.capacity(1) == 12 and definition.capacity(4) == 36
    assert definition.describe_capacity(1) == "3 workers x 4 threads = 12"
    assert definition.production.rule == "(2 x CPU cores) + 1 workers of 4 threads"


def test_the_committed_configurations_declare_their_production_sizing() -> None:
    definitions = load_definitions()
    sync, gthread = definitions["gunicorn-sync"], definitions["gunicorn-gthread"]
    assert (sync.production_workers(1), sync.production_threads, sync.capacity(1)) == (3, 1, 3)
    assert sync.describe_capacity(1) == "3 workers, one request each = 3"
    assert (gthread.production_workers(2), gthread.capacity(1)) == (5, 24)
    assert gthread.describe_capacity(1) == "3 workers x 8 threads = 24"
    for one_process in ("runserver", "runserver-daphne", "daphne"):
        assert definitions[one_process].production_workers(8) == 1, one_process
    for definition in definitions.values():
        production = definition.production
        assert production.rule and production.docs.startswith("https://"), definition.id
        if definition.interface == "asgi":  # every ASGI worker says which loop it runs
            assert production.loop and definition.capacity(1) is None, definition.id
        uses_threads = any("{threads}" in " ".join(argv) for argv in definition.commands.values())
        assert uses_threads == (production.serves == "threads"), definition.id


def test_asgi_servers_that_offer_uvloop_run_it() -> None:
    definitions = load_definitions()
    expected = {
        "hypercorn": ("--worker-class", "uvloop"),
        "granian-asgi": ("--loop", "uvloop"),
        "gunicorn-asgi": ("--asgi-loop", "uvloop"),
    }
    for server_id, (flag, value) in expected.items():
        definition = definitions[server_id]
        assert any(r.startswith("uvloop==") for r in definition.requirements), server_id
        for kind, argv in definition.commands.items():
            assert argv[argv.index(flag) + 1] == value, (server_id, kind)
        assert "uvloop" in definition.production.loop
    assert "asyncio" in definitions["daphne"].production.loop  # Twisted's reactor, no uvloop


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda text: text.replace("workers_per_cpu = 2\n", ""),
            "production.workers_per_cpu: missing",
        ),
        (
            lambda text: text.replace("workers_plus = 1", 'workers_plus = "one"'),
            "production.workers_plus: expected int, got 'one'",
        ),
        (
            lambda text: text.replace("workers_per_cpu = 2", "workers_per_cpu = -1"),
            "production.workers_per_cpu/workers_plus: must not be negative",
        ),
        (
            lambda text: text.replace("workers_plus = 1", "workers_plus = 0").replace(
                "workers_per_cpu = 2", "workers_per_cpu = 0"
            ),
            "production.workers_per_cpu: workers_per_cpu x CPUs + workers_plus must give",
        ),
        (
            lambda text: text.replace('serves = "threads"', 'serves = "forks"'),
            "production.serves: 'forks' is not one of",
        ),
        (lambda text: text.replace("threads = 4\n", ""), "production.threads: a positive count"),
        (
            lambda text: text.replace('serves = "threads"', 'serves = "greenlets"'),
            "production.threads: only for serves = \"threads\", not 'greenlets'",
        ),
        (
            lambda text: text.replace('serves = "threads"', 'serves = "event-loop"').replace(
                "threads = 4\n", ""
            ),
            "production.loop: say which event loop the workers run",
        ),
        (
            lambda text: text.replace('"https://example.org/docs/workers"', '"gunicorn docs"'),
            "production.docs: 'gunicorn docs' must be an http(s) URL",
        ),
        (
            lambda text: text.replace("[production]\n", "[production]\ncores = 4\n"),
            "production.cores: unknown key",
        ),
        (lambda text: text.replace("[production]", "[sizing]"), "production: missing"),
    ],
)
def test_a_malformed_production_table_is_named_by_file_and_field(
    tmp_path: Path, change, message: str
) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(change(VALID.format(id="tiny")))
    with pytest.raises(DefinitionError) as failure:
        load_definitions(tmp_path)
    assert f"{path}: {message}" in "\n".join(failure.value.problems)


# ---- options and claims of absence -------------------------------------------------------


def test_a_claimed_absent_option_must_not_be_listed_by_the_stored_help_text() -> None:
    """Every definition that says its pinned version has no option for a behaviour is checked
    against the help text that version printed, stored with the server's newest run (a
    configuration not captured yet has none: its claims are checked by its first capture)."""
    newest = load_evidence(DEFAULT_DATA_DIR).newest_runs()
    claimed = {d.id: d for d in load_definitions().values() if d.absent and d.id in newest}
    assert claimed, "no captured definition claims an absent option: this test checks nothing"
    for server_id, definition in claimed.items():
        run = newest[server_id].document
        assert "help" in run, f"{server_id}: its newest run stored no help text to check against"
        record = {"absent": [{"option": a.option} for a in definition.absent]}
        listed = absent_claims_contradicted(record, run["help"]["text"])
        assert not listed, f"{server_id}: claims no {listed} but its --help lists it"


@pytest.mark.parametrize(
    ("help_text", "contradicted"),
    [
        ("  --http2-cleartext MODE   h2c\n", []),  # a longer flag is not the claimed one
        ("  --http2                   enable HTTP/2\n", ["--http2"]),
        ("usage: x [--http2] [--port PORT]", ["--http2"]),
        ("  --no-http2   turn it off\n", []),
    ],
)
def test_the_help_text_lists_a_flag_only_as_a_whole_option(help_text, contradicted) -> None:
    assert (
        absent_claims_contradicted({"absent": [{"option": "--http2"}]}, help_text) == contradicted
    )


def test_an_option_naming_an_unknown_check_is_a_problem(tmp_path: Path) -> None:
    text = VALID.format(id="x") + (
        '[options.fast]\nlabel = "--fast"\ndocs = "https://example.org"\n'
        'checks = ["no-such-check"]\n[options.fast.commands]\nhttp = ["x", "{port}"]\n'
    )
    (tmp_path / "x.toml").write_text(text)

    problems = validate(tmp_path / "data", tmp_path)

    assert any("options.fast.checks: 'no-such-check' is not a check id" in p for p in problems)


def test_every_root_path_option_mounts_where_the_check_looks() -> None:
    from harness.checks.hazards.root_path import MOUNT

    for definition in load_definitions().values():
        for option in definition.options_for("root-path"):
            assert option.mount in ("", MOUNT), (definition.id, option.id)


def test_gunicorn_uvicorn_tries_the_h11_worker_for_the_header_limits() -> None:
    """uvicorn-worker 0.4.0 provides uvicorn_worker.UvicornH11Worker (asyncio and h11): the
    header-limits check runs with it as well as with the default httptools worker."""
    definition = load_definitions()["gunicorn-uvicorn"]
    (option,) = definition.options_for("header-limits")
    assert option.id == "h11-worker" and "UvicornH11Worker" in option.label
    default = list(definition.commands["http"])
    tried = list(definition.with_option(option.id).commands["http"])
    at = default.index("--worker-class") + 1
    assert tried[at] == "uvicorn_worker.UvicornH11Worker"
    assert tried[:at] + tried[at + 1 :] == default[:at] + default[at + 1 :]  # nothing else


# ---- [operations]: the reload signal ----------------------------------------------------------

OPERATIONS = """
[operations]
reload_signal = "SIGHUP"
reload_docs = "https://example.org/signals"
reload_note = "HUP starts new workers, then stops the old ones."
recycle_args = ["--max-requests", "{max_requests}", "--max-requests-jitter", "{jitter}"]
recycle_docs = "https://example.org/max-requests"
recycle_note = "Each worker restarts after max-requests plus a random jitter."
"""


def test_the_reload_signal_is_read_with_its_page_and_note(tmp_path: Path) -> None:
    (tmp_path / "tiny.toml").write_text(VALID.format(id="tiny") + OPERATIONS)
    operations = load_definitions(tmp_path)["tiny"].operations
    assert operations is not None
    assert operations.reload_signal == "SIGHUP"
    assert operations.reload_docs == "https://example.org/signals"
    assert operations.reload_note.startswith("HUP starts")
    assert operations.recycle_args == (
        "--max-requests",
        "{max_requests}",
        "--max-requests-jitter",
        "{jitter}",
    )


def test_a_server_without_a_reload_signal_declares_none(tmp_path: Path) -> None:
    text = VALID.format(id="tiny") + OPERATIONS.replace('reload_signal = "SIGHUP"\n', "")
    (tmp_path / "tiny.toml").write_text(text)
    operations = load_definitions(tmp_path)["tiny"].operations
    assert operations is not None and operations.reload_signal is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda text: text.replace('"SIGHUP"', '"SIGKILL"'),
            "operations.reload_signal: 'SIGKILL' is not one of",
        ),
        (
            lambda text: text.replace('"https://example.org/signals"', '"signals.html"'),
            "operations.reload_docs: 'signals.html' must be an http(s) URL",
        ),
        (
            lambda text: text.replace("reload_note = ", "note = "),
            "operations.note: unknown key",
        ),
        (
            lambda text: text.replace("{jitter}", "{spread}"),
            "operations.recycle_args: unknown placeholder(s) ['spread']",
        ),
        (
            lambda text: text.replace('recycle_docs = "https://example.org/max-requests"\n', ""),
            "operations.recycle_docs: a non-empty string is required",
        ),
        (
            lambda text: text.replace(
                'reload_note = "HUP starts new workers, then stops the old ones."',
                'reload_note = " "',
            ),
            "operations.reload_note: a non-empty string is required",
        ),
    ],
)
def test_a_malformed_operations_table_is_named_by_file_and_field(
    tmp_path: Path, change, message: str
) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(change(VALID.format(id="tiny") + OPERATIONS))
    with pytest.raises(DefinitionError) as failure:
        load_definitions(tmp_path)
    assert f"{path}: {message}" in "\n".join(failure.value.problems)


def test_every_committed_configuration_declares_how_it_reloads() -> None:
    """Each says its reload signal or that it has none, with the page that shows it."""
    for definition in load_definitions().values():
        assert definition.operations is not None, definition.id
        assert definition.operations.reload_docs.startswith("https://"), definition.id
    signals = {d.id: d.operations.reload_signal for d in load_definitions().values()}
    assert {server for server, signal in signals.items() if signal is None} == {
        "runserver",
        "runserver-daphne",
        "daphne",
        "waitress",
    }
    recycling = {d.id for d in load_definitions().values() if d.operations.recycle_args}
    assert recycling == {
        "gunicorn-asgi",
        "gunicorn-gevent",
        "gunicorn-gthread",
        "gunicorn-sync",
        "gunicorn-uvicorn",
        "hypercorn",
        "mod-wsgi-express",
        "uvicorn",
        "uwsgi-gevent",
        "uwsgi-threads",
    }
