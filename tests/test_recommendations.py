"""Recommendations follow the stated rules and change with the data."""

from __future__ import annotations

from generators.recommendations import Situation, judge, load_rules
from tests import synthetic

WEBSOCKETS = Situation(
    id="ws",
    title="WebSockets",
    need="",
    mode="production",
    require={"websocket": ["yes"]},
    prefer=["graceful-shutdown"],
    figures=[],
)


def _run(server: str, outcomes: dict[str, str], mode: str = "production") -> dict:
    document = synthetic.run(server)
    document["server"]["mode"] = mode
    template = document["checks"][0]
    document["checks"] = [
        dict(template, id=check, outcome=outcome) for check, outcome in outcomes.items()
    ]
    return document


def test_only_configurations_meeting_every_requirement_are_recommended() -> None:
    runs = [
        _run("uvicorn", {"websocket": "yes", "graceful-shutdown": "no"}),
        _run("gunicorn-sync", {"websocket": "no", "graceful-shutdown": "yes"}),
        _run("runserver", {"websocket": "yes"}, mode="development"),
    ]
    verdict = judge(WEBSOCKETS, runs)
    assert [item["run"]["server"]["id"] for item in verdict.recommended] == ["uvicorn"]
    reasons = {item["run"]["server"]["id"]: item["reasons"] for item in verdict.excluded}
    assert reasons == {"gunicorn-sync": ["websocket: no"], "runserver": ["meant for development"]}


def test_preferred_checks_rank_and_the_answer_follows_the_data() -> None:
    runs = [
        _run("uvicorn", {"websocket": "yes", "graceful-shutdown": "no"}),
        _run("daphne", {"websocket": "yes", "graceful-shutdown": "yes"}),
    ]
    assert judge(WEBSOCKETS, runs).recommended[0]["run"]["server"]["id"] == "daphne"
    runs[1]["checks"][1]["outcome"] = "no"
    runs[0]["checks"][1]["outcome"] = "yes"
    assert judge(WEBSOCKETS, runs).recommended[0]["run"]["server"]["id"] == "uvicorn"


def test_unmeasured_requirements_are_said_not_guessed() -> None:
    verdict = judge(WEBSOCKETS, [_run("uvicorn", {"graceful-shutdown": "yes"})])
    assert verdict.unmeasured == ["websocket"]
    assert verdict.recommended == []


def test_the_rules_file_names_only_known_checks() -> None:
    from harness.checks import all_checks

    known = {check.id for check in all_checks()}
    for situation in load_rules():
        assert set(situation.require) <= known, situation.id
        assert set(situation.prefer) <= known, situation.id
