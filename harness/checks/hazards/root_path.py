"""The root-path check: Django mounted under a path prefix, as behind a proxy that forwards
``/app/...`` to it: does the request reach the right view, and do Django's own URLs (reverse(),
APPEND_SLASH's redirect) keep the prefix?

A server learns the prefix from its root-path (ASGI ``root_path``) or script-name (WSGI
``SCRIPT_NAME``) option and strips it from the path Django routes on. Without one, Django sees
``/app/echo`` and answers 404; the definitions declare each server's option, tried beside the
default command."""

from __future__ import annotations

from typing import Any

from harness.checks import Check, CheckContext, Finding
from harness.checks.hazards._shared import GROUP, address
from harness.checks.hazards.raw_http import Address, exchange

MOUNT = "/app"  # every definition's root-path option mounts the project here
LIMIT_S = 5.0
SLASHLESS = "/polls"  # APPEND_SLASH redirects it to /polls/

# How a proxy can pass a request for /app/echo on: unchanged, or with the prefix stripped
# (nginx's proxy_pass with a URI). A server's option works with one or the other.
STYLES = {
    "forwarded": "the proxy forwards the prefix",
    "stripped": "the proxy strips the prefix",
}

THRESHOLDS = (
    f"GET {MOUNT}/echo and {MOUNT}{SLASHLESS} (without its slash), as a proxy that forwards the "
    "prefix sends them; if the view is not reached that way, GET /echo and "
    f"{SLASHLESS}, as a proxy that strips it does. Outcome: yes = in one of the two, the echo "
    f"view answers with path {MOUNT}/echo, path_info /echo and reverse() giving {MOUNT}/echo, "
    f"and APPEND_SLASH redirects to {MOUNT}{SLASHLESS}/; partial = the view is reached but a "
    "URL Django builds loses the prefix; no = Django never sees the prefix (404, or URLs "
    "without it)."
)


def _get(target: Address, path: str) -> dict[str, Any]:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {target.host_header}\r\nConnection: close\r\n\r\n"
    ).encode()
    result = exchange(target, request, idle_s=LIMIT_S, limit_s=LIMIT_S)
    response = result.responses[0] if result.responses else None
    return {
        "path": path,
        "status": response.status if response else None,
        "location": response.header("location") if response else None,
        "echo": response.echo if response else None,
        "ended": result.ended,
    }


def mounted_right(echo: dict[str, Any] | None, redirect: dict[str, Any]) -> bool:
    return bool(echo) and (
        echo["path"] == f"{MOUNT}/echo"
        and echo["path_info"] == "/echo"
        and echo["reversed"] == f"{MOUNT}/echo"
        and redirect["location"] == f"{MOUNT}{SLASHLESS}/"
    )


def _seen(echo: dict[str, Any], redirect: dict[str, Any]) -> str:
    return (
        f"Django saw path {echo['path']}, path_info {echo['path_info']}, script name "
        f"{echo['script_name'] or '(none)'}; reverse() gave {echo['reversed']}; "
        f"the slashless URL redirected to {redirect['location']}"
    )


def judge(tries: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> tuple[str, str]:
    """The outcome from each style tried: (the echo GET, the slashless GET)."""
    for style, (echo_get, redirect) in tries.items():
        if mounted_right(echo_get["echo"], redirect):
            return (
                "yes",
                f"Mounted under {MOUNT} when {STYLES[style]}: {_seen(echo_get['echo'], redirect)}.",
            )
    for style, (echo_get, redirect) in tries.items():
        echo = echo_get["echo"]
        if echo and echo["script_name"] == MOUNT:
            return "partial", (
                f"Django got the prefix when {STYLES[style]}, but a URL lost it: "
                f"{_seen(echo, redirect)}."
            )
    forwarded = tries["forwarded"][0]
    return "no", (
        f"Django never got the prefix: {MOUNT}/echo answered HTTP {forwarded['status']}"
        + (
            ", and with the prefix stripped reverse() gave "
            + tries["stripped"][0]["echo"]["reversed"]
            if "stripped" in tries and tries["stripped"][0]["echo"]
            else ""
        )
        + "."
    )


def run(context: CheckContext) -> Finding:
    target = address(context)
    tries = {"forwarded": (_get(target, f"{MOUNT}/echo"), _get(target, f"{MOUNT}{SLASHLESS}"))}
    if not mounted_right(tries["forwarded"][0]["echo"], tries["forwarded"][1]):
        tries["stripped"] = (_get(target, "/echo"), _get(target, SLASHLESS))
    outcome, summary = judge(tries)
    evidence = {
        "instance": context.shared.describe(),
        **{
            style: {"echo": echo, "redirect": redirect} for style, (echo, redirect) in tries.items()
        },
    }
    return Finding(outcome, summary, evidence)


CHECKS = [
    Check(
        id="root-path",
        title="Mounted under a path prefix",
        group=GROUP,
        question=(
            f"Behind a proxy that forwards {MOUNT}/... unchanged, is Django routed and do its "
            "URLs (reverse(), redirects) keep the prefix?"
        ),
        thresholds=THRESHOLDS,
        run=run,
    ),
]
