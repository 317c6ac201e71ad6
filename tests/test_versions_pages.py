"""The version axis's pages: the release an outcome changed in, with its notes; Django and
Python versions apart; nothing decided by a release's position in a list."""

from __future__ import annotations

from generators.definitions import presented_checks
from generators.render import environment
from generators.versions import release_key, version_histories
from tests import synthetic

NOTES = {"alpha": {"1.10.0": "https://example.org/alpha/1.10.0"}}


def _run(release: str, outcome: str, django: str = "6.1.3", python: str = "3.12.8") -> dict:
    run = synthetic.run("alpha", outcome=outcome)
    current = (release, django, python[:4]) == ("1.10.0", "6.1.3", "3.12")
    run["axis"] = {
        "server_release": release,
        "django": django,
        "python": python,
        "current": current,
    }
    return run


def _histories(runs: list[dict]):
    return version_histories(runs, presented_checks(), {}, NOTES)


def test_releases_are_ordered_by_number_and_a_change_names_its_first_release() -> None:
    runs = [_run("1.10.0", "yes"), _run("1.9.2", "no"), _run("1.8.0", "no")]
    (history,) = _histories(runs)
    assert history.releases == ["1.8.0", "1.9.2", "1.10.0"]  # not "1.10.0" < "1.8.0" as text
    (check,) = history.changed()
    (change,) = check.transitions
    assert (change.release, change.before, change.after) == ("1.10.0", "no", "yes")
    assert change.notes == "https://example.org/alpha/1.10.0"
    assert release_key("0.9.2") < release_key("0.10.0")


def test_django_and_python_are_each_their_own_axis() -> None:
    runs = [
        _run("1.10.0", "yes"),
        _run("1.10.0", "no", django="5.2.9"),
        _run("1.10.0", "yes", python="3.13.1"),
        _run("1.9.2", "partial", django="5.2.9"),  # another release and Django: on no axis
    ]
    (history,) = _histories(runs)
    assert history.releases == ["1.10.0"]
    assert history.django_axis == ["5.2.9", "6.1.3"]
    assert [row.outcomes for row in history.django_rows if row.differs] == [
        {"5.2.9": "no", "6.1.3": "yes"}
    ]
    assert history.python_axis == ["3.12", "3.13"]
    assert not any(row.differs for row in history.python_rows)


def test_the_pages_show_the_change_with_its_notes_and_escape_data() -> None:
    runs = [_run("1.10.0", "yes"), _run("1.9.2", "no")]
    runs[0]["server"]["name"] = "<script>x</script>"
    histories = _histories(runs)
    env = environment()
    index = env.get_template("versions.md.j2").render(histories=histories)
    assert "in **1\\.10\\.0**" in index and "(https://example.org/alpha/1.10.0)" in index
    assert "<script>" not in index
    page = env.get_template("version_server.md.j2").render(history=histories[0])
    assert "| 1\\.9\\.2 | 1\\.10\\.0 | Since |" in page


def test_without_the_current_combination_there_is_no_axis() -> None:
    assert _histories([_run("1.9.2", "no")]) == []


def test_a_version_capture_renders_its_pages_and_the_server_page_says_since(tmp_path) -> None:
    from evidence.documents import write_document
    from evidence.layout import DataDir
    from evidence.validation import load_evidence
    from generators.render import render_pages

    root = tmp_path / "data"
    synthetic.write_data(root, [synthetic.run("alpha", outcome="yes")])
    capture = "20260101T010000Z"
    combinations = [("0.9", "no", False), ("1.0", "yes", True)]
    record = synthetic.version_capture(capture, [release for release, _, _ in combinations])
    data = DataDir(root)
    write_document(data.capture_path(synthetic.MACHINE_ID, capture), record, "capture")
    for release, outcome, current in combinations:
        document = synthetic.run("alpha", outcome=outcome, capture=capture)
        document["axis"] = {
            "server_release": release,
            "django": "6.1.3",
            "python": "3.12.8",
            "current": current,
        }
        name = f"alpha@{release}+django-6.1.3+python-3.12"
        write_document(data.version_path(synthetic.MACHINE_ID, capture, name), document, "run")

    pages = render_pages(load_evidence(root))

    assert "versions/alpha.md" in pages
    assert "in **1\\.0**" in pages["versions/index.md"]
    assert "Since **1\\.0** of this server: no before it" in pages["servers/alpha.md"]
    assert "(../versions/alpha.md#concurrency-sync-sleep)" in pages["servers/alpha.md"]
