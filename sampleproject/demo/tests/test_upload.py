"""The upload view reads back the uploaded file and says what it got; make_large_static writes
the same 1 MiB stylesheet into STATIC_ROOT every time."""

import hashlib
from io import BytesIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from demo.management.commands.make_large_static import (
    LARGE_STATIC_BYTES,
    LARGE_STATIC_NAME,
    large_stylesheet,
)


def test_a_small_upload_is_read_back_from_memory(client):
    content = b"a small file"
    response = client.post("/upload", {"file": SimpleUploadedFile("a.txt", content)})
    answer = response.json()
    assert response.status_code == 200
    assert answer["file_bytes"] == len(content)
    assert answer["file_sha256"] == hashlib.sha256(content).hexdigest()
    assert (answer["uploaded_as"], answer["temporary_file"]) == ("InMemoryUploadedFile", None)
    assert answer["started_at"] <= answer["parsed_at"] <= answer["answered_at"]


def test_a_large_upload_goes_to_a_temporary_file_in_file_upload_temp_dir(
    client, settings, tmp_path: Path
):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    content = b"x" * (settings.FILE_UPLOAD_MAX_MEMORY_SIZE + 1)
    upload = BytesIO(content)
    upload.name = "big.bin"
    answer = client.post("/upload", {"file": upload}).json()
    assert answer["file_bytes"] == len(content)
    assert answer["uploaded_as"] == "TemporaryUploadedFile"
    assert Path(answer["temporary_file"]).parent == tmp_path
    assert list(tmp_path.iterdir()) == []  # removed when the request ended


def test_an_upload_without_the_file_field_is_refused(client):
    assert client.post("/upload", {"other": "x"}).status_code == 400
    assert client.get("/upload").status_code == 405


def test_the_large_stylesheet_is_the_same_mebibyte_every_time(settings, tmp_path: Path):
    settings.STATIC_ROOT = str(tmp_path)
    call_command("make_large_static")
    written = (tmp_path / LARGE_STATIC_NAME).read_bytes()
    assert len(written) == LARGE_STATIC_BYTES
    assert written == large_stylesheet()
    assert written.startswith(b".rule-0 { color: #")


def test_the_large_stylesheet_needs_a_static_root(settings):
    settings.STATIC_ROOT = None
    with pytest.raises(CommandError, match="STATIC_ROOT"):
        call_command("make_large_static")
