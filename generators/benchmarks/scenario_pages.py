"""The page of each benchmark scenario: its title and the question it answers."""

from __future__ import annotations

from evidence.vocabulary import SCENARIOS

SCENARIO_PAGES = {
    "calibration": (
        "Load-tool calibration",
        "How fast can the load tools themselves go on this machine, and how much headroom do "
        "they leave above the fastest Django figure?",
    ),
    "interleaved": (
        "Servers side by side, in one run",
        "Measured in the same interleaved rounds, with a raw ASGI and a raw WSGI app as the "
        "reference: how many requests per second does each configuration answer, and how "
        "does that compare with the reference app of its interface (its rate divided by the "
        "reference's)?",
    ),
    "h2load": (
        "Requests/s and latency",
        "How many requests per second does each server answer, over each protocol and at each "
        "number of concurrent clients, and how fast?",
    ),
    "fixed-rate-latency": (
        "Latency at a fixed rate",
        "At fixed fractions of its own maximum rate, how long does each server take to answer?",
    ),
    "resources": (
        "Start-up and memory",
        "How long until the server answers, and how much memory does it use idle and under load?",
    ),
    "sync-middleware-cost": (
        "Cost of a sync-only middleware",
        "How much slower is an async view when one sync-only middleware is installed?",
    ),
    "idle-connections": (
        "Idle connections",
        "How many idle Server-Sent Events streams and WebSockets does the server keep open, and "
        "how much memory does each cost?",
    ),
    "locust-polls": (
        "Users voting in the polls app",
        "How many simulated users voting in the polls app before requests fail, on PostgreSQL "
        "with Django's connection pool and without it, beside the article's table?",
    ),
    "locust-upstream": (
        "Slow upstream calls (the “Django sync or async” article reproduced)",
        "Users on a page that calls a slow external API three times: how many answers a "
        "second, and how long each waits, with the article's protocol and its table beside ours.",
    ),
    "convergence": (
        "Do the windows converge?",
        "Measured with the window rule's window and with one three times longer, in the same "
        "rounds: do the requests per second and the 99th percentile agree?",
    ),
}


def scenario_pages() -> dict[str, tuple[str, str]]:
    """(title, question) of every scenario page, in scenario order."""
    if set(SCENARIO_PAGES) != set(SCENARIOS):
        raise RuntimeError("SCENARIO_PAGES must name every scenario of evidence.vocabulary")
    return {scenario: SCENARIO_PAGES[scenario] for scenario in SCENARIOS}


def benchmark_navigation() -> list[tuple[str, str]]:
    """(title, page) of the benchmark pages, for the navigation."""
    return [("All benchmarks", "benchmarks/index.md")] + [
        (title, f"benchmarks/{scenario}.md") for scenario, (title, _) in scenario_pages().items()
    ]
