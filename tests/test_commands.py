"""The production command a server page offers: every option that did better in a check is in
it, combined; a path-prefix option is beside it; a second rewrite is named, never guessed."""

from __future__ import annotations

from typing import Any

from generators.commands import added_arguments, production_command, shell_lines
from generators.model import presented_result

DEFAULT = ["serve", "app", "--workers", "{workers}"]


def option(option_id: str, argv: list[str], label: str) -> dict[str, Any]:
    return {"label": label, "docs": f"https://docs.example/{option_id}", "commands": {"http": argv}}


def result(check_id: str, option_id: str | None, outcome: str = "yes") -> dict[str, Any]:
    condition = (
        {"option": option_id, "label": f"--{option_id}", "docs": "https://docs.example/"}
        if option_id
        else None
    )
    return {
        "id": check_id,
        "title": check_id.replace("-", " "),
        "outcome": outcome,
        "condition": condition,
        "default": {"outcome": "partial"} if option_id else None,
    }


def run(options: dict[str, dict[str, Any]], checks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "server": {"mode": "production", "commands": {"http": DEFAULT}, "options": options},
        "checks": checks,
        "provenance": {"workers": 5, "sizing": {"threads": None}},
    }


def test_options_that_add_arguments_are_combined_in_the_order_of_the_checks() -> None:
    options = {
        "timeout": option("timeout", [*DEFAULT, "--timeout", "120"], "--timeout 120"),
        "recycle": option("recycle", [*DEFAULT, "--max-requests", "1000"], "--max-requests 1000"),
    }
    command = production_command(
        run(options, [result("long-work", "timeout"), result("memory-soak", "recycle")])
    )

    expected = ["serve", "app", "--workers", "5", "--timeout", "120", "--max-requests", "1000"]
    assert command.argv == expected
    assert [shown["check"] for shown in command.options] == ["long-work", "memory-soak"]
    assert command.beside == []
    assert all("argv" not in shown for shown in command.options)


def test_a_path_prefix_option_is_offered_beside_the_command_not_in_it() -> None:
    options = {
        "root-path": option("root-path", [*DEFAULT, "--root-path", "/app"], "--root-path /app"),
        "keep": option("keep", [*DEFAULT, "--keep-alive", "75"], "--keep-alive 75"),
    }
    command = production_command(
        run(options, [result("root-path", "root-path"), result("keepalive-idle", "keep")])
    )

    assert "--root-path" not in command.argv
    assert command.argv[-2:] == ["--keep-alive", "75"]
    (beside,) = command.beside
    assert (beside["check"], beside["situation"]) == (
        "root-path",
        "when the project is served under a path prefix",
    )


def test_a_rewrite_is_the_base_and_a_second_rewrite_is_named_not_merged() -> None:
    options = {
        "hook": option("hook", ["serve", "app", "--hook", "x", "--workers", "{workers}"], "hook"),
        "mount": option("mount", ["serve", "--mount", "/=app", "--workers", "{workers}"], "m"),
        "keep": option("keep", [*DEFAULT, "--keep-alive", "75"], "--keep-alive 75"),
    }
    command = production_command(
        run(
            options,
            [result("graceful", "hook"), result("other", "mount"), result("idle", "keep")],
        )
    )

    assert command.argv == ["serve", "app", "--hook", "x", "--workers", "5", "--keep-alive", "75"]
    assert [shown["check"] for shown in command.options] == ["graceful", "idle"]
    assert [(shown["check"], shown["situation"]) for shown in command.beside] == [
        ("other", "its command rewrites the one above")
    ]


def test_an_option_that_did_no_better_stays_out() -> None:
    options = {"keep": option("keep", [*DEFAULT, "--keep-alive", "75"], "--keep-alive 75")}
    command = production_command(run(options, [result("keepalive-idle", None)]))

    assert command.argv == ["serve", "app", "--workers", "5"]
    assert (command.options, command.beside) == ([], [])


def test_added_arguments_tells_an_addition_from_a_rewrite() -> None:
    assert added_arguments(DEFAULT, [*DEFAULT, "--x"]) == ["--x"]
    assert added_arguments(DEFAULT, DEFAULT) == []
    assert added_arguments(DEFAULT, ["serve", "other", "--workers", "{workers}"]) is None


def test_the_operations_checks_back_the_production_command() -> None:
    checks = [
        {**result("graceful-shutdown", None), "group": "Lifecycle"},
        {**result("client-disconnect", None), "group": "Operations"},
        {**result("keepalive-idle", None), "group": "Hazards"},
    ]
    command = production_command(run({}, checks))

    assert [backing.check_id for backing in command.backed_by] == [
        "graceful-shutdown",
        "client-disconnect",
    ]


def test_a_long_command_is_shown_a_line_per_option() -> None:
    argv = ["gunicorn", "app.wsgi", "--workers", "3", "--reload", "--bind=127.0.0.1:8000", "x y"]
    assert shell_lines(argv) == (
        "gunicorn app.wsgi \\\n    --workers 3 \\\n    --reload \\\n"
        "    --bind=127.0.0.1:8000 \\\n    'x y'"
    )
    assert shell_lines(["python", "manage.py", "runserver"]) == "python manage.py runserver"


def _soak(outcome: str, replaced_by: int | None) -> dict[str, Any]:
    """SYNTHETIC: a memory-soak result (or option run) whose one worker was or was not
    replaced during the soak."""
    processes = [{"role": "child", "replaced_by": replaced_by, "replaces": None}]
    return {"outcome": outcome, "summary": outcome, "evidence": {"processes": processes}}


def test_a_memory_control_that_never_replaced_a_worker_is_not_credited() -> None:
    def shown(option_replaced_by: int | None) -> dict[str, Any]:
        option = _soak("yes", option_replaced_by) | {
            "option": "max-rss",
            "label": "--workers-max-rss 256",
        }
        result = _soak("no", None) | {"id": "memory-soak", "options": [option]}
        return presented_result(result, {})

    # The control respawned a worker and the soak was flat: the command needs it.
    acted = shown(option_replaced_by=4242)
    assert acted["outcome"] == "yes"
    assert acted["condition"]["option"] == "max-rss"
    # It never acted (no worker reached the limit): its flat soak is a second sample of the
    # default, so the default's outcome stands and no flag is added for it.
    idle = shown(option_replaced_by=None)
    assert idle["outcome"] == "no"
    assert idle["condition"] is None
    assert [option["acted"] for option in idle["options"]] == [False]
