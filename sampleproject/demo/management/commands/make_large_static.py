"""``manage.py make_large_static``: write a 1 MiB stylesheet into STATIC_ROOT, as a bundled
site stylesheet would be, after ``collectstatic``.

Made rather than committed (a megabyte in the repository for a measurement), and the same bytes
every time, so that a client can compare what a server sent with the file on disk. It is
compressible text, so a server that compresses has something to gain.
"""

import hashlib
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

LARGE_STATIC_NAME = "demo/large.css"  # under STATIC_ROOT, so served at STATIC_URL + this
LARGE_STATIC_BYTES = 1024 * 1024


def large_stylesheet(size: int = LARGE_STATIC_BYTES) -> bytes:
    """``size`` bytes of CSS rules, each with a colour taken from a hash of its number (text
    that compresses, though not to nothing)."""
    rules = []
    total = 0
    number = 0
    while total < size:
        colour = hashlib.sha256(str(number).encode()).hexdigest()[:6]
        rule = f".rule-{number} {{ color: #{colour}; margin: {number % 37}px {number % 11}px; }}\n"
        rules.append(rule)
        total += len(rule)
        number += 1
    return "".join(rules).encode("ascii")[:size]


class Command(BaseCommand):
    help = f"Write {LARGE_STATIC_NAME} ({LARGE_STATIC_BYTES:,} bytes of CSS) into STATIC_ROOT."

    def handle(self, *args: object, **options: object) -> None:
        if not settings.STATIC_ROOT:
            raise CommandError("STATIC_ROOT is not set (DJANGO_STATIC_ROOT).")
        target = Path(settings.STATIC_ROOT) / LARGE_STATIC_NAME
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed, so a server never serves half a file.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".large-")
        with os.fdopen(handle, "wb") as file:
            file.write(large_stylesheet())
        os.replace(temporary, target)
        os.chmod(target, 0o644)
        self.stdout.write(f"Wrote {target} ({LARGE_STATIC_BYTES:,} bytes).")
