"""End to end: definitions -> environments -> real servers -> checks -> run files.

Uses real Django runserver in a real uv environment, next to deliberately broken definitions.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from evidence.documents import read_document, write_document
from evidence.layout import REPO_ROOT, DataDir
from generators.model import presented_result
from harness.benchmarks.capture import interleave
from harness.benchmarks.django_setup import polls_pool_size
from harness.benchmarks.pinning import Pinning
from harness.benchmarks.scenarios.locust_polls import POOLED_FIGURE
from harness.capture import run_capture
from harness.capture_plan import Capture
from harness.checks import Check, all_checks
from harness.checks.concurrency import CHECKS
from harness.definitions import load_definitions
from harness.profiles import PROFILES
from harness.progress import Progress
from tests import synthetic
from tests.conftest import TINY_HTTP, processes_mentioning

pytestmark = pytest.mark.servers

DEFINITION = """
id = "{id}"
name = "{id}"
interface = "wsgi"
mode = "development"
summary = "Test definition."
homepage = "https://example.org/"
docs = "https://example.org/docs"
requirements = []
stop_signal = "SIGTERM"
[production]
workers_per_cpu = 0
workers_plus = 1
serves = "thread-per-request"
rule = "One process, a thread per request, as runserver serves (a test definition)"
docs = "https://example.org/docs"
[env]
DJANGO_DEV_MODE = "1"
[commands]
http = {command}
"""
COMMANDS = {
    "good": '["{python}", "manage.py", "runserver", "--noreload", "{host}:{port}"]',
    "exits": '["{python}", "-c", "import sys; print(\'boom: bad flag\'); sys.exit(2)"]',
    "missing": '["no-such-server-binary", "--port", "{port}"]',
    "hangs": '["{python}", "-c", "import time; print(\'warming up\', flush=True); '
    'time.sleep(600)"]',
    # Serves /json/sync (so it is ready), then dies on the first sleep request: a crash in
    # the middle of a check.
    "crashes": f'["{{python}}", "{TINY_HTTP}", "{{port}}", "dies-on-sleep"]',
    # Ready, then dies on its 30th request: a crash in the middle of a benchmark.
    "collapses": f'["{{python}}", "{TINY_HTTP}", "{{port}}", "dies-under-load"]',
}


def _definitions(directory: Path, *ids: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for server_id in ids:
        (directory / f"{server_id}.toml").write_text(
            DEFINITION.format(id=server_id, command=COMMANDS[server_id])
        )
    return directory


def test_broken_servers_are_recorded_and_the_others_still_run(
    tmp_path: Path, environments_dir: Path
) -> None:
    definitions = load_definitions(
        _definitions(tmp_path / "servers", "exits", "good", "hangs", "missing")
    )
    data = DataDir(tmp_path / "data")
    capture = Capture(
        "20260101T000000Z",
        "test-machine",
        # Long enough for runserver to start; "hangs" is given up on after it.
        replace(PROFILES["quick"], start_timeout_s=8, stop_grace_s=5),
        data,
        environments_dir,
        checks=[CHECKS[0]],
    )
    written = run_capture(capture, list(definitions.values()), Progress(4))

    runs = {path.stem: read_document(path, "run") for path in written}
    assert set(runs) == {"exits", "good", "hangs", "missing"}
    assert sorted(capture.not_captured) == ["exits", "hangs", "missing"]

    good = runs["good"]
    assert good["startup"]["ok"] is True
    assert good["server"]["version"] == good["provenance"]["packages"]["django"]
    (result,) = good["checks"]
    assert result["outcome"] in ("yes", "partial", "no"), result["summary"]
    assert [batch["n"] for batch in result["evidence"]["batches"]] == [2, 10]

    expectations = {
        "exits": ("exited with code 2", "boom: bad flag"),
        "missing": ("cannot execute 'no-such-server-binary'", ""),
        "hangs": ("not ready within 8 s", "warming up"),
    }
    for server_id, (reason, log_line) in expectations.items():
        run = runs[server_id]
        assert run["startup"]["ok"] is False
        assert reason in run["startup"]["error"]
        assert log_line in run["startup"]["log_tail"]
        (failed,) = run["checks"]
        assert failed["outcome"] == "error"
        assert reason in failed["summary"]

    assert not processes_mentioning(str(environments_dir))


def _harness(*args: str, **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "harness", *args],
        cwd=REPO_ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **kwargs,
    )


def test_an_unknown_server_id_is_refused_with_the_known_ones() -> None:
    process = _harness("capture", "--server", "nope")
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "unknown server id(s): nope" in output
    assert "uvicorn" in output


def test_ctrl_c_stops_the_run_cleanly(tmp_path: Path, environments_dir: Path) -> None:
    servers = _definitions(tmp_path / "servers", "hangs", "good")
    data_dir = tmp_path / "data"
    process = _harness(
        "capture",
        "--quick",
        "--jobs",
        "1",
        "--check",
        "concurrency-sync-sleep",
        "--servers-dir",
        str(servers),
        "--data-dir",
        str(data_dir),
        "--environments-dir",
        str(environments_dir),
        env={**os.environ, "SERVING_DJANGO_MACHINE": "test-machine"},
    )
    seen = []
    deadline = time.monotonic() + 180
    assert process.stdout is not None
    for line in process.stdout:  # "good" sorts first and is recorded; then "hangs" starts
        seen.append(line)
        if "hangs: preparing database" in line or time.monotonic() > deadline:
            break
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 130, "".join(seen) + rest
    assert "interrupted" in rest
    run_files = sorted(data_dir.glob("runs/*/*/*.json"))
    assert [path.stem for path in run_files] == ["good"]
    json.loads(run_files[0].read_text())  # complete, not partial
    assert not processes_mentioning(str(environments_dir))


def test_a_server_crashing_in_the_middle_of_a_check_is_recorded_with_its_log(
    tmp_path: Path, environments_dir: Path
) -> None:
    definitions = load_definitions(_definitions(tmp_path / "servers", "crashes", "good"))
    capture = Capture(
        "20260101T000000Z",
        "test-machine",
        replace(PROFILES["quick"], start_timeout_s=20),
        DataDir(tmp_path / "data"),
        environments_dir,
        checks=CHECKS,
        jobs=2,
    )
    written = run_capture(capture, list(definitions.values()), Progress(2))
    runs = {path.stem: read_document(path, "run") for path in written}
    crashed = runs["crashes"]
    assert crashed["startup"]["ok"] is True
    first, *later = crashed["checks"]
    assert later, "the crash should leave checks after it"
    for result in crashed["checks"]:
        assert result["outcome"] == "error", result["summary"]
        assert "dying on purpose" in result["evidence"]["server_log_tail"]
    assert "exited (code" in first["summary"] and "during the check" in first["summary"]
    for result in later:  # not run again, and not said to have crashed during themselves
        assert result["summary"].startswith("Not measured: the server had already exited")
    # It was gone before the stop: no signal was sent, and the record does not claim one.
    assert crashed["shutdown"]["signal"] is None
    assert all(result["outcome"] != "error" for result in runs["good"]["checks"])
    assert runs["good"]["shutdown"]["signal"] == "SIGTERM"
    assert not processes_mentioning(str(environments_dir))


def test_a_server_crashing_in_the_middle_of_a_benchmark_is_recorded_as_failed(
    tmp_path: Path, environments_dir: Path
) -> None:
    definitions = load_definitions(_definitions(tmp_path / "servers", "collapses", "good"))
    capture = Capture(
        "20260101T000000Z",
        "test-machine",
        replace(PROFILES["quick"], start_timeout_s=20, stop_grace_s=5),
        DataDir(tmp_path / "data"),
        environments_dir,
        run_checks=False,
        scenarios=("h2load",),
    )
    written = run_capture(capture, list(definitions.values()), Progress(2))
    documents = {path.stem: read_document(path, "benchmark") for path in written}
    assert sorted(documents) == ["collapses", "good"]  # benchmarks only: no run files
    collapsed = documents["collapses"]["results"]
    assert collapsed and all(figure["status"] == "failed" for figure in collapsed)
    assert all(figure["metrics"] == {} for figure in collapsed)  # no number, never a zero
    first = collapsed[0]
    assert "exited" in first["failure"]
    assert "dying on purpose under load" in first["repeats"][0]["server_log_tail"]
    good = documents["good"]["results"]
    assert good and all(figure["status"] == "ok" for figure in good), good
    assert all(figure["metrics"]["requests_per_s"] > 0 for figure in good)
    assert not processes_mentioning(str(environments_dir))
    assert not processes_mentioning("h2load")


@pytest.mark.parametrize("delay_s", [0.0, 2.5, 6.0])
def test_ctrl_c_at_any_moment_leaves_data_whole(
    tmp_path: Path, environments_dir: Path, delay_s: float
) -> None:
    """Interrupt at different moments (installing, starting, checking): files written before
    are untouched, no partial or temporary file appears, and no process survives."""
    data_dir = tmp_path / "data"
    earlier = synthetic.write_data(data_dir, [synthetic.run("uvicorn")])
    before = {path: path.read_bytes() for path in data_dir.rglob("*.json")}
    servers = _definitions(tmp_path / "servers", "good", "crashes", "hangs")
    process = _harness(
        "capture",
        "--quick",
        "--servers-dir",
        str(servers),
        "--data-dir",
        str(data_dir),
        "--environments-dir",
        str(environments_dir),
        "--check",
        "concurrency-sync-sleep",
        env={**os.environ, "SERVING_DJANGO_MACHINE": "test-machine"},
    )
    time.sleep(delay_s)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    # 130: stopped by the harness; -2: interrupted before Python had even loaded the harness.
    assert process.returncode in (0, 130, -signal.SIGINT), output
    for path, content in before.items():
        assert path.read_bytes() == content, f"{path} changed"
    assert not list(data_dir.rglob("*.tmp"))
    for path in earlier.run_paths():
        read_document(path, "run")  # every file there is whole and valid
    assert not processes_mentioning(str(environments_dir))


def test_a_machine_name_taken_by_other_hardware_is_refused_untouched(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    synthetic.write_data(data_dir, [])  # "Synthetic CPU (test fixture)", 2 cores
    machine_file = data_dir / "machines" / f"{synthetic.MACHINE_ID}.json"
    before = machine_file.read_bytes()
    process = _harness(
        "capture",
        "--quick",
        "--server",
        "uvicorn",
        "--data-dir",
        str(data_dir),
        env={**os.environ, "SERVING_DJANGO_MACHINE": synthetic.MACHINE_ID},
    )
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "describes other hardware (cpu_model" in output
    assert machine_file.read_bytes() == before
    assert not (data_dir / "runs" / synthetic.MACHINE_ID).exists()


def test_the_slow_upstream_reproduction_runs_end_to_end_with_two_locust_workers(
    tmp_path: Path, environments_dir: Path
) -> None:
    # Tiny scale (the quick profile's 5 users), but the article's view, ramp and answered-only
    # rates, on a real Django server calling the real upstream service, and Locust as one
    # master with two local workers whose per-step files are added up.
    definitions = load_definitions(_definitions(tmp_path / "servers", "good"))
    capture = Capture(
        "20260101T000000Z",
        "test-machine",
        replace(PROFILES["quick"], start_timeout_s=30, stop_grace_s=5),
        DataDir(tmp_path / "data"),
        environments_dir,
        run_checks=False,
        scenarios=("locust-upstream",),
        locust_workers=2,
    )
    written = run_capture(capture, list(definitions.values()), Progress(1))

    (figure,) = read_document(written[0], "benchmark")["results"]
    assert figure["status"] == "ok", figure["failure"]
    assert figure["params"]["path"] == "/upstream/threadpool"  # the article's sync view
    assert figure["params"]["processes"] == 2
    assert figure["params"]["ramp_s"] > 0
    metrics = figure["metrics"]
    assert metrics["step5_answered_per_s"] > 0
    assert metrics["failures_percent"] == 0
    assert "requests_per_s" not in metrics  # no rate of sent requests
    assert isinstance(metrics["step5_server_cpu_percent"], float)
    (repeat,) = figure["repeats"]
    assert repeat["step_files"] == 2  # one per worker, added up
    step = repeat["steps"][0]
    assert step["ramp"]["seconds"] == figure["params"]["ramp_s"]  # the ramp, kept apart...
    # ...and every answer counted once: in the ramp, in the step, or drained after it.
    in_run = step["requests"] + step["ramp"]["requests"] + metrics["drained_answered"]
    assert metrics["requests_total"] == in_run
    assert not processes_mentioning(str(environments_dir))
    assert not processes_mentioning("locustfiles/upstream.py")


def test_the_polls_reproduction_runs_on_postgresql_behind_nginx(
    tmp_path: Path, environments_dir: Path
) -> None:
    # Tiny scale (5 and 10 users), but the article's stack: PostgreSQL started for the server,
    # migrated and loaded in its environment, nginx in front; and our SQLite figure beside it.
    definitions = load_definitions(_definitions(tmp_path / "servers", "good"))
    capture = Capture(
        "20260101T000000Z",
        "test-machine",
        replace(PROFILES["quick"], start_timeout_s=30, stop_grace_s=5),
        DataDir(tmp_path / "data"),
        environments_dir,
        run_checks=False,
        scenarios=("locust-polls",),
    )
    written = run_capture(capture, list(definitions.values()), Progress(1))

    figures = {
        figure["figure"]: figure for figure in read_document(written[0], "benchmark")["results"]
    }
    # The production setup: Django's connection pool, sized by the configuration.
    assert "polls vote, PostgreSQL behind nginx" not in figures  # unpooled: declared ones only
    article = figures[POOLED_FIGURE]
    assert article["status"] == "ok", article["failure"]
    assert article["params"]["pool_max_size"] == polls_pool_size(definitions["good"])
    assert article["params"]["database_server"]["version"].startswith("postgres (PostgreSQL)")
    assert article["params"]["proxy"].startswith("nginx")
    metrics = article["metrics"]
    assert metrics["failures_percent"] == 0, article["repeats"][0]["failure_messages"]
    assert metrics["step10_answered_per_s"] > 0
    for role in ("server", "locust", "nginx", "postgres"):
        assert f"step10_{role}_cpu_percent" in metrics
    assert figures["polls vote, SQLite"]["params"]["setup"] == "ours, not the article's"
    assert not processes_mentioning(str(environments_dir))
    assert not processes_mentioning("serving-django-postgres-")
    assert not processes_mentioning("nginx.conf")


def test_convergence_and_fixed_rate_measure_a_real_server_in_one_capture(
    tmp_path: Path, environments_dir: Path
) -> None:
    # Convergence: the rule's window and one three times longer, on one server per round.
    # Fixed rate: openload's closed-loop maximum, then the open-model rate from it.
    definitions = load_definitions(_definitions(tmp_path / "servers", "good"))
    capture = Capture(
        "20260101T000000Z",
        "test-machine",
        replace(PROFILES["quick"], start_timeout_s=30, stop_grace_s=5),
        DataDir(tmp_path / "data"),
        environments_dir,
        run_checks=False,
        scenarios=("fixed-rate-latency", "convergence"),
    )
    written = run_capture(capture, list(definitions.values()), Progress(1))

    figures = {f["figure"]: f for f in read_document(written[0], "benchmark")["results"]}
    assert all(figure["status"] == "ok" for figure in figures.values()), figures
    short, long = (figures[f"http/1.1 json_sync c=10 window x{factor}"] for factor in (1, 3))
    assert long["params"]["duration_s"] == 3 * short["params"]["duration_s"]
    assert [short["params"]["window_factor"], long["params"]["window_factor"]] == [1.0, 3.0]
    maximum, rate = figures["json_sync-maximum"], figures["json_sync-50pct"]
    assert maximum["params"]["model"] == "closed" and rate["params"]["model"] == "open"
    assert rate["params"]["tool"] == "openload"
    assert rate["params"]["target_requests_per_s"] == round(
        maximum["metrics"]["answered_per_s"] * 0.5, 1
    )
    assert rate["metrics"]["held_percent"] > 0
    assert not processes_mentioning(str(environments_dir))
    assert not processes_mentioning("openload.mjs")


LIFECYCLE_APP = Path(__file__).parent / "apps" / "lifecycle_server.py"
WITH_OPTION = f"""
id = "optioned"
name = "optioned"
interface = "wsgi"
mode = "production"
summary = "Test definition: cuts requests on SIGTERM unless started with its option."
homepage = "https://example.org/"
docs = "https://example.org/docs"
requirements = []
stop_signal = "SIGTERM"
help = ["{{python}}", "-c", "print('usage: optioned [--graceful] [--port PORT]')"]
[[absent]]
option = "--h2c"
checks = ["http2-cleartext"]
note = "optioned 1.0 has no cleartext HTTP/2 option"
[production]
workers_per_cpu = 0
workers_plus = 1
serves = "one-at-a-time"
rule = "One process (a test definition)"
docs = "https://example.org/docs"
[commands]
http = ["{{python}}", "{LIFECYCLE_APP}", "{{port}}", "abrupt"]
[options.graceful]
label = "--graceful"
docs = "https://example.org/docs/graceful"
checks = ["graceful-shutdown"]
[options.graceful.commands]
http = ["{{python}}", "{LIFECYCLE_APP}", "{{port}}", "graceful"]
"""


GRACEFUL = next(check for check in all_checks() if check.id == "graceful-shutdown")


def _optioned_run(tmp_path: Path, environments_dir: Path, check: Check) -> dict[str, Any]:
    """The run file of a capture of ``check`` on the WITH_OPTION server (lifecycle app)."""
    servers = tmp_path / "servers"
    servers.mkdir()
    (servers / "optioned.toml").write_text(WITH_OPTION)
    definitions = load_definitions(servers)
    capture = Capture(
        "20260101T000000Z",
        "test-machine",
        replace(PROFILES["quick"], start_timeout_s=20, stop_grace_s=5),
        DataDir(tmp_path / "data"),
        environments_dir,
        [check],
    )
    (written,) = run_capture(capture, list(definitions.values()), Progress(1))
    return read_document(written, "run")


def test_a_check_is_tried_with_the_default_command_and_with_each_documented_option(
    tmp_path: Path, environments_dir: Path
) -> None:
    run = _optioned_run(tmp_path, environments_dir, GRACEFUL)
    (result,) = run["checks"]
    assert result["outcome"] == "no"  # the default command cuts the request in flight
    assert result["cause"] == "server"  # a no says whose it is; the server's here
    (option,) = result["options"]
    assert option["option"] == "graceful" and option["label"] == "--graceful"
    assert option["outcome"] == "yes", option["summary"]
    assert "cause" not in option  # a yes names no cause
    assert "graceful" in option["evidence"]["instance"]["command"][-1]
    assert run["help"]["text"].startswith("usage: optioned")
    assert run["server"]["absent"][0]["option"] == "--h2c"
    # The site shows the best outcome and the option it needed.
    shown = presented_result(result, {}, run["server"])
    assert shown["outcome"] == "yes" and shown["condition"]["label"] == "--graceful"
    assert shown["default"]["outcome"] == "no"
    assert not processes_mentioning(str(LIFECYCLE_APP))


def test_a_check_tries_its_options_only_where_its_default_result_asks_for_them(
    tmp_path: Path, environments_dir: Path
) -> None:
    # As a memory control is tried only where the default soak was not yes: here the options
    # are wanted only after a yes, and the default command's result is a no.
    only_after_a_yes = replace(GRACEFUL, options_when=lambda default: default["outcome"] == "yes")
    (result,) = _optioned_run(tmp_path, environments_dir, only_after_a_yes)["checks"]
    assert result["outcome"] == "no"
    assert "options" not in result  # the --graceful option was not started


def test_the_interleaved_rounds_measure_every_server_in_one_file(
    tmp_path: Path, environments_dir: Path
) -> None:
    # Two configurations, the second broken: the working one is measured in every round, the
    # broken one fails in every round with its reason, and the reference apps without Granian
    # (this test's definitions have none) fail with theirs; one valid file holds them all.
    definitions = load_definitions(_definitions(tmp_path / "servers", "good", "exits"))
    capture = Capture(
        "20260101T000000Z",
        "test-machine",
        replace(PROFILES["quick"], start_timeout_s=30, stop_grace_s=5),
        DataDir(tmp_path / "data"),
        environments_dir,
        run_checks=False,
        scenarios=("interleaved",),
    )
    document = interleave(
        capture,
        list(definitions.values()),
        definitions,
        Pinning(None, None),
        Progress(1).server("interleaved"),
        None,
    )
    path = tmp_path / "interleaved.json"
    write_document(path, document, "benchmark")  # validates it
    figures = {f["figure"]: f for f in read_document(path, "benchmark")["results"]}
    assert list(figures) == [
        "ref-wsgi http/1.1 c=10",
        "ref-asgi http/1.1 c=10",
        "exits http/1.1 c=10",
        "exits http/1.1 c=10, no middleware",
        "good http/1.1 c=10",
        "good http/1.1 c=10, no middleware",
    ]
    good = figures["good http/1.1 c=10"]
    assert good["status"] == "ok" and len(good["repeats"]) == 2
    bare = figures["good http/1.1 c=10, no middleware"]
    assert bare["status"] == "ok" and len(bare["repeats"]) == 2
    assert bare["params"]["middleware_stack"] == "none"
    assert "boom: bad flag" in figures["exits http/1.1 c=10, no middleware"]["failure"]
    assert good["params"]["compared_with"] == "ref-wsgi"
    assert good["metrics"]["answered_per_s"] > 0
    assert good["metrics"]["reference_ratio"] is None  # no reference was measured
    assert "boom: bad flag" in figures["exits http/1.1 c=10"]["failure"]
    assert "Granian" in figures["ref-wsgi http/1.1 c=10"]["failure"]
    assert not processes_mentioning(str(environments_dir))
