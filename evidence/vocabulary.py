"""The enumerations of ``data/``, defined once. The JSON Schemas repeat them (a schema is a
file a contributor can read without Python); ``tests/test_evidence_schemas.py`` fails when a
copy differs."""

from __future__ import annotations

# What a behaviour check found.
OUTCOMES = ("yes", "no", "partial", "not-applicable", "error")
# Whose behaviour decided a "no" or "partial": the server's; Django's own handler (the same
# under every server of the interface, such as Django's WSGI request reading no body without a
# CONTENT_LENGTH); or the project's, meaning the sample project's idiom or a choice of this
# harness. Recorded only on those two outcomes; optional, since files written before December
# 2026 have no such field and their outcomes were read as the server's.
# "undetermined": the check could not tell the server's part from Django's and the views'.
CAUSES = ("server", "django", "project", "undetermined")
# The outcomes a cause is recorded on: the ones that would count against a server.
CAUSED_OUTCOMES = ("no", "partial")

# Benchmark scenarios, in the order a capture runs them and the site lists them.
SCENARIOS = (
    "calibration",
    "interleaved",
    "h2load",
    "fixed-rate-latency",
    "resources",
    "sync-middleware-cost",
    "idle-connections",
    "locust-polls",
    "locust-upstream",
    "convergence",
)
# Scenarios a capture runs only when named (``--scenario convergence``): they check the
# measurement rules rather than compare servers, and double the time of what they measure.
OPT_IN_SCENARIOS = ("convergence",)
# What a capture runs by default and with ``--scenario all``.
STANDARD_SCENARIOS = tuple(s for s in SCENARIOS if s not in OPT_IN_SCENARIOS)

# How long and how often a capture measures (the harness defines what each one means).
PROFILES = ("quick", "standard", "full")

INTERFACES = ("wsgi", "asgi")
MODES = ("development", "production")
# The benchmark file that is about the load tools, not a server.
CALIBRATION_ID = "calibration"
# The benchmark file of the interleaved rounds: every configuration, and the reference apps
# (ASGI and WSGI apps on Granian with a fixed amount of Python work, no Django) measured in
# the same rounds. The first capture used trivial raw apps (raw-*) instead.
INTERLEAVED_ID = "interleaved"
REFERENCE_TARGETS = ("ref-wsgi", "ref-asgi", "raw-wsgi", "raw-asgi")
# Why the interleaved rounds stopped (each figure's parameter ``rounds_stopped``; files from
# before December 2026 ran a fixed number of rounds and have none): every reference app's
# answered/s varied between rounds by less than the profile's CV; the profile's most rounds
# were taken first; a reference app failed (more rounds cannot settle it); the capture was
# interrupted.
ROUNDS_STOPPED = ("reference-settled", "round-cap", "reference-failed", "interrupted")
FIGURE_STATUSES = ("ok", "failed")
# How a Locust figure's rates place an answer in time (its parameter ``answers_counted``).
# "on-arrival" (from December 2026): a rate counts the answers that arrived inside its window,
# and those that arrived after the last step are counted apart (``drained_answered``). Figures
# without the parameter placed each request by when it was sent: their whole-run rate includes
# the queue drained after the last step, which can exceed what the server could answer in the
# run's time.
ANSWERS_COUNTED_ON_ARRIVAL = "on-arrival"
# Whose fault a failed figure is: the server's (it crashed, refused, timed out), the machine's
# (PostgreSQL or nginx could not start, a scratch folder could not be written, a load tool is
# missing: nothing the server did), or the harness's (a scenario's own bug). Optional: files
# written before December 2026 have no such field, and their failures were read as the server's.
FAILED_BY = ("server", "machine", "harness")

# How a server handled one input of the request-smuggling corpus, best first: rejected it;
# passed Django the RFC's reading; gave no answer; accepted what the RFC says to reject;
# passed Django another reading; ran the request hidden in the body.
FRAMING_CLASSES = ("rejected", "accepted", "no-answer", "lenient", "misread", "smuggled")

# How a server met one fixed-rate load of the overload check, best first: the wait of what it
# answered stayed bounded (the excess refused); something between; its queue grew without bound.
OVERLOAD_STATES = ("held", "strained", "swamped")

# How an HTTP/2 server met more streams than its SETTINGS_MAX_CONCURRENT_STREAMS, best first:
# refused the extra ones (a stream error, RFC 9113 5.1.2); closed the whole connection; kept
# them open; or advertised no limit to test.
H2_STREAM_LIMIT_VERDICTS = ("refused", "closed", "ignored", "untested")
# How an HTTP/2 server met a sustained rapid reset (CVE-2023-44487), best first: bounded it
# (closed or refused the attacking streams) with a second client still served in time; did
# not, or its second client slowed past the bound; starved the second client; not measured.
H2_RAPID_RESET_VERDICTS = ("bounded", "unbounded", "starved", "error")

# What a proxy in front could be made to do when a server departs from the RFC on an input, as
# the corpus declares it per input: desync (the input decides where a message ends, so a
# server that frames it otherwise than the RFC can disagree with a proxy about the next
# request) or lenient (it cannot move a message's end: header contents, line ends, Host).
FRAMING_RISKS = ("desync", "lenient")
# How bad what a server did with one input is, best first: fine (rejected, or read as the RFC
# says), lenient (a departure that cannot desync), desync (the server's message boundary is
# not the RFC's). Written per input since December 2026; older files have only the class.
FRAMING_SEVERITIES = ("fine", "lenient", "desync")
# What nginx did with an input of the behind-nginx variant: answered it itself (an error, or
# closed), passed it to the server (re-framed by nginx), or said nothing within the limit.
NGINX_HANDLING = ("rejected", "forwarded", "no-answer")
