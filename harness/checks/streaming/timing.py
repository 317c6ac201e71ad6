"""The streams the checks ask for, and the rule that calls their arrivals live or buffered."""

from __future__ import annotations

from collections.abc import Sequence

# The streams asked for: long enough to tell live from buffered on a loaded machine, short
# enough to keep the run quick.
STREAM_CHUNKS = 5
STREAM_DELAY_S = 0.4
SSE_EVENTS = 5
SSE_INTERVAL_S = 0.4
# Live: the first item arrives within this share of the time until the last one...
FIRST_WITHIN_SHARE = 0.5
# ...and the arrivals spread over at least this share of the time the view took to produce them.
LIVE_SPREAD_SHARE = 0.5
# Buffered: all items arrive within this share of that time of each other.
BUFFERED_SPREAD_SHARE = 0.25
STREAM_TIMEOUT_S = 20.0  # a whole stream or SSE read, headers included

_TIMING_RULE = (
    "Live when the first {item} arrives within the first {first:.0%} of the time until the last "
    "one and the arrivals spread over at least {live:.0%} of the {span:g} s the view takes to "
    "produce them; buffered when all arrive within {buffered:g} s of each other; irregular in "
    "between."
)


def timing_rule(item: str, span_s: float) -> str:
    return _TIMING_RULE.format(
        item=item,
        first=FIRST_WITHIN_SHARE,
        live=LIVE_SPREAD_SHARE,
        span=span_s,
        buffered=BUFFERED_SPREAD_SHARE * span_s,
    )


STREAM_SPAN_S = (STREAM_CHUNKS - 1) * STREAM_DELAY_S
SSE_SPAN_S = (SSE_EVENTS - 1) * SSE_INTERVAL_S


def classify_arrivals(arrivals_s: Sequence[float], span_s: float) -> str:
    """``live``, ``buffered`` or ``irregular`` for the arrival times (seconds, ascending) of
    items that the view produced over ``span_s`` seconds from first to last."""
    first, last = arrivals_s[0], arrivals_s[-1]
    spread = last - first
    if spread >= LIVE_SPREAD_SHARE * span_s and first <= FIRST_WITHIN_SHARE * last:
        return "live"
    if spread < BUFFERED_SPREAD_SHARE * span_s:
        return "buffered"
    return "irregular"


def timing_phrase(kind: str, count: int, item: str, arrivals: Sequence[float], gap: float) -> str:
    """The first words of a summary: how ``count`` items arrived."""
    first, last = arrivals[0], arrivals[-1]
    if kind == "live":
        return f"Live: {count} {item}s {gap:g} s apart arrived from {first:.2f} s to {last:.2f} s"
    if kind == "buffered":
        return (
            f"Buffered: all {count} {item}s (sent {gap:g} s apart) arrived together after "
            f"{last:.2f} s"
        )
    return (
        f"Irregular: {count} {item}s (sent {gap:g} s apart) arrived from {first:.2f} s to "
        f"{last:.2f} s"
    )
