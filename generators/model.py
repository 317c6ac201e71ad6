"""The data the check pages show, assembled from the evidence read once: the latest run per
server, the checks, and every run for the changes page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evidence.setups import describe_run_setup, run_setup_differs
from evidence.validation import NEWEST_RUN_RULE, Evidence, Loaded, recorded_order
from generators.causes import HandlerPart, decided_by, django_parts
from generators.definitions import presented, presented_checks, presented_servers
from generators.framing import CHECK_ID as FRAMING_CHECK_ID
from generators.framing import desync_inputs

# Icon (a Material icon shortcode, rendered as inline SVG: no emoji font needed) and label; the
# label is always shown next to the icon so outcomes never rely on colour or shape alone.
OUTCOME_LABELS = {
    "yes": (":material-check-circle:{ .sd-yes }", "yes"),
    "no": (":material-close-circle:{ .sd-no }", "no"),
    "partial": (":material-circle-half-full:{ .sd-partial }", "partial"),
    "not-applicable": (":material-minus-circle-outline:{ .sd-na }", "n/a"),
    "error": (":material-alert:{ .sd-error }", "error"),
}
# How the matrix orders rows: what people start with, then WSGI, then ASGI.
_MODE_ORDER = {"development": 0, "production": 1}
_INTERFACE_ORDER = {"wsgi": 0, "asgi": 1}


@dataclass(frozen=True)
class Site:
    runs: list[dict[str, Any]]  # the newest run of each server, in matrix order
    all_runs: list[dict[str, Any]]  # every run, for the changes page
    checks: list[dict[str, Any]]  # id, title, group, question, thresholds, timed (catalog)
    machines: dict[str, dict[str, Any]]
    sources: dict[str, str]  # server id -> data file the run came from (relative to data/)
    run_rule: str = NEWEST_RUN_RULE  # which run of each server is shown, said on the pages
    # (machine, capture) -> running / interrupted / complete, from the captures' own files
    capture_states: dict[tuple[str, str], str] = field(default_factory=dict)
    # (id, name) of each configuration with a page under versions/ (the version axis), in
    # matrix order; set by the render once the version runs are read.
    versioned: list[tuple[str, str]] = field(default_factory=list)

    def capture_state(self, run: dict[str, Any]) -> str | None:
        """How far the run's capture got; None for captures recorded without their own file."""
        return self.capture_states.get((run["machine"], run["capture"]))

    def django_parts(self) -> dict[str, dict[str, HandlerPart]]:
        """interface -> check id -> what Django's own handler decided there (the matrix's
        Django rows); empty when no shown result names Django as its cause."""
        return django_parts(self.runs, self.checks)

    def decided_causes(self) -> list[str]:
        """The causes other than the server that decided some shown result, sorted."""
        return sorted({r["decided_by"] for run in self.runs for r in run["checks"]} - {None})

    def result(self, run: dict[str, Any], check_id: str) -> dict[str, Any] | None:
        return next((item for item in run["checks"] if item["id"] == check_id), None)

    def shown_captures(self) -> list[dict[str, Any]]:
        """The captures the shown runs come from: machine, capture and its servers, newest
        capture first, so a page can say which captures it shows."""
        shown: dict[tuple[str, str], list[str]] = {}
        for run in self.runs:
            server_id = run["server"]["id"]
            shown.setdefault((run["machine"], run["capture"]), []).append(server_id)
            for capture in sorted(
                {r["carried_from"]["capture"] for r in run["checks"] if r.get("carried_from")}
            ):
                shown.setdefault((run["machine"], capture), []).append(server_id)
        return [
            {
                "machine": machine,
                "capture": capture,
                "servers": servers,
                "state": self.capture_states.get((machine, capture)),
            }
            for (machine, capture), servers in sorted(
                shown.items(), key=lambda item: item[0][1], reverse=True
            )
        ]


def row_order(document: dict[str, Any]) -> tuple:
    """Matrix order of a run or benchmark file: by mode, then interface, then id."""
    server = document["server"]
    return (
        _MODE_ORDER.get(server["mode"], len(_MODE_ORDER)),
        _INTERFACE_ORDER.get(server["interface"], len(_INTERFACE_ORDER)),
        server["id"],
    )


def site_from(
    evidence: Evidence,
    servers: dict[str, dict[str, Any]] | None = None,
    catalog: list[dict[str, Any]] | None = None,
) -> Site:
    """The site's runs; what they say about each server comes from its definition, and what
    they say about each check (title, group, question) from the check catalog."""
    servers = presented_servers() if servers is None else servers
    catalog = presented_checks() if catalog is None else catalog
    known = {check["id"]: check for check in catalog}
    catalog_order = {check["id"]: index for index, check in enumerate(catalog)}
    newest = {}
    for server_id, loaded in evidence.newest_runs().items():
        server = presented(loaded.document["server"], servers)
        results = loaded.document["checks"] + carried_results(evidence.runs, loaded)
        results.sort(key=lambda result: catalog_order.get(result["id"], len(catalog_order)))
        checks = [presented_result(result, known, server) for result in results]
        newest[server_id] = ({**loaded.document, "server": server, "checks": checks}, loaded.source)
    runs = sorted((run for run, _ in newest.values()), key=row_order)
    measured = {result["id"] for run in runs for result in run["checks"]}
    return Site(
        runs=runs,
        all_runs=[loaded.document for loaded in evidence.runs],
        # The catalog's checks that some shown run measured, in its order. A check no longer in
        # the catalog is not a column: ``nox -s validate`` refuses run files with unknown ids.
        checks=[check for check in catalog if check["id"] in measured],
        machines=evidence.machines,
        sources={server_id: source for server_id, (_, source) in newest.items()},
        capture_states={key: loaded.document["state"] for key, loaded in evidence.captures.items()},
    )


def carried_results(runs: list[Loaded], newest: Loaded) -> list[dict[str, Any]]:
    """The checks a server's newest run did not measure (a capture of a few checks), each from
    the newest earlier run of that server on the same machine that did, marked with where it
    comes from (``carried_from``: capture, data file, that run's sizing and whether it is the
    newest run's), so a partial capture adds to the matrix instead of hiding the rest of it.
    Runs of other machines never fill a row: another machine is another experiment."""
    document = newest.document
    measured = {result["id"] for result in document["checks"]}
    earlier = sorted(
        (
            loaded
            for loaded in runs
            if loaded.document["server"]["id"] == document["server"]["id"]
            and loaded.document["machine"] == document["machine"]
            and recorded_order(loaded.document) < recorded_order(document)
        ),
        key=lambda loaded: recorded_order(loaded.document),
        reverse=True,
    )
    carried = []
    for loaded in earlier:
        for result in loaded.document["checks"]:
            if result["id"] in measured:
                continue
            measured.add(result["id"])
            carried.append(
                {
                    **result,
                    "carried_from": {
                        "capture": loaded.document["capture"],
                        "source": loaded.source,
                        "setup": describe_run_setup(loaded.document),
                        "same_setup": not run_setup_differs(loaded.document, document),
                    },
                }
            )
    return carried


# Which outcome a reader can get, best first: a check tried with options shows the best.
OUTCOME_RANK = {"yes": 4, "partial": 3, "no": 2, "not-applicable": 1, "error": 0}


def option_acted(check_id: str, option: dict[str, Any]) -> bool:
    """Whether an option's run shows the option doing what it is for. A memory control
    (--max-requests, --workers-max-rss) acts by replacing a worker; a soak with the control on
    that replaced none ran exactly as the default did, so a better outcome there is a second
    sample of the default, not the control's doing, and is not credited to it."""
    if check_id != "memory-soak":
        return True
    processes = (option.get("evidence") or {}).get("processes") or []
    return any(process.get("replaced_by") is not None for process in processes)


def presented_result(
    result: dict[str, Any], known: dict[str, dict[str, Any]], server: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A run's check result with the catalog's title, group and question, and the outcome a
    reader can get: the best of the default commands and the server's documented options
    tried for this check, with the option it needs (``condition``), the default's own result
    (``default``), and the definition's claims that no option exists (``absent``). The
    thresholds stay the file's own: they are the rule this result was judged by."""
    check = known.get(result["id"])
    shown = dict(result)
    if check is not None:
        shown.update({key: check[key] for key in ("title", "group", "question")})
    options = result.get("options") or []
    credited = [option for option in options if option_acted(result["id"], option)]
    best = max(credited, key=lambda o: OUTCOME_RANK[o["outcome"]], default=None)
    shown["condition"] = None
    shown["carried_from"] = result.get("carried_from")
    # An option's words and link come from the reviewed definition, never from a data file;
    # an option the definition no longer has keeps its data text, without a link.
    reviewed = (server or {}).get("option_text", {})
    shown["options"] = [
        {
            **option,
            "label": option["label"],
            "docs": None,
            **reviewed.get(option["option"], {}),
            "acted": option_acted(result["id"], option),
        }
        for option in options
    ]
    source = result
    if best is not None and OUTCOME_RANK[best["outcome"]] > OUTCOME_RANK[result["outcome"]]:
        source = best
        shown.update(outcome=best["outcome"], summary=best["summary"])
        chosen = next(o for o in shown["options"] if o["option"] == best["option"])
        shown["condition"] = {key: chosen[key] for key in ("option", "label", "docs")}
    # Whose behaviour decided the shown outcome (the file's word; None in older files).
    shown["cause"] = source.get("cause")
    shown["cause_detail"] = source.get("cause_detail")
    shown["decided_by"] = decided_by(source)
    shown["default"] = {key: result[key] for key in ("outcome", "summary")} if options else None
    shown["absent"] = [
        claim["note"]
        for claim in (server or {}).get("absent", [])
        if result["id"] in claim["checks"]
    ]
    # The request-smuggling inputs that desync (generators/framing.py), which /pick/'s
    # no-smuggling need refuses whatever the outcome; None for every other check.
    shown["desync_inputs"] = (
        desync_inputs(result, check["cases"])
        if check is not None and result["id"] == FRAMING_CHECK_ID
        else None
    )
    return shown
