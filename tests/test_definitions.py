"""Server definitions: the committed ones are the 14 configurations; broken ones are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.definitions import DefinitionError, fill_command, load_definitions

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
[commands]
http = ["tiny", "--bind", "{{host}}:{{port}}"]
"""


def test_the_committed_definitions_are_the_fourteen_configurations() -> None:
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
    assert fill_command(definition.commands["http"], {"host": "127.0.0.1", "port": "9"}) == [
        "tiny",
        "--bind",
        "127.0.0.1:9",
    ]


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
