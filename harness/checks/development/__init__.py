"""Development mode: static files, template changes and code changes while writing code.

Each check starts its own instance in development mode (DJANGO_DEV_MODE=1: DEBUG on, no
WhiteNoise, no collectstatic), as a developer would run the server on their machine. The
template and code checks edit a scratch copy of the project, never ``sampleproject/``.

One module per check (``static``, ``template_reload``, ``code_reload``, ``write_stall``);
``editing`` holds the edit-then-poll steps the two reload checks share and ``logs`` how they
read the server log. ``write_stall`` alone uses the configuration's own instance: it times the
development server as the benchmarks started it.
"""

from __future__ import annotations

from harness.checks.development import code_reload, static, template_reload, write_stall
from harness.checks.development._shared import GROUP

__all__ = ["CHECKS", "GROUP"]

CHECKS = [static.CHECK, template_reload.CHECK, code_reload.CHECK, write_stall.CHECK]
