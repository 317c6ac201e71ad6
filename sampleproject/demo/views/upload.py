"""A view that receives one uploaded file and says what it got: what a form with a file field
does, for the large-upload check."""

import hashlib
import time

from django.core.files.uploadedfile import TemporaryUploadedFile
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

UPLOAD_FIELD = "file"
READ_SIZE = 1024 * 1024


@csrf_exempt
@require_POST
def upload(request: HttpRequest) -> JsonResponse:
    """The size and SHA-256 of the file in the ``file`` field, read back in 1 MiB pieces.

    ``started_at`` (``time.time()``) is when the view began, before Django parsed the body:
    under WSGI Django reads the body while it parses (request.FILES below); under ASGI its
    handler has read the whole body into a temporary file before any view runs.
    """
    started_at = time.time()
    uploaded = request.FILES.get(UPLOAD_FIELD)
    parsed_at = time.time()
    if uploaded is None:
        return JsonResponse({"error": f"no file in the {UPLOAD_FIELD!r} field"}, status=400)
    digest = hashlib.sha256()
    size = 0
    for piece in uploaded.chunks(READ_SIZE):
        digest.update(piece)
        size += len(piece)
    on_disk = isinstance(uploaded, TemporaryUploadedFile)
    return JsonResponse(
        {
            "started_at": started_at,
            "parsed_at": parsed_at,
            "answered_at": time.time(),
            "file_bytes": size,
            "file_sha256": digest.hexdigest(),
            "uploaded_as": type(uploaded).__name__,
            "temporary_file": uploaded.temporary_file_path() if on_disk else None,
        }
    )
