"""The convergence page's table: each figure measured with the window rule's window and with a
longer one in the same rounds, set side by side against the stated targets."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from generators.benchmarks.figure import Figure

# The window rule holds for a figure when the rule's window gives the long window's median
# within these shares: answered requests per second, and the 99th percentile of latency.
RATE_TARGET_PERCENT = 5.0
P99_TARGET_PERCENT = 10.0
RATE = "answered_per_s"
P99 = "latency_p99_ms"


@dataclass(frozen=True)
class ConvergenceRow:
    server: str
    server_id: str
    clients: int
    capture: str
    rule: Figure
    longer: Figure

    def change_percent(self, name: str) -> float | None:
        """How far the rule's window's median lies from the longer window's, in percent of
        the longer one; None when either is missing or withheld."""
        short, long = self.rule.metric(name), self.longer.metric(name)
        if short is None or not long or not self.rule.ok or not self.longer.ok:
            return None
        if self.rule.counts_failures(name) or self.longer.counts_failures(name):
            return None
        if self.rule.unobservable(name) or self.longer.unobservable(name):
            return None
        return (short - long) / long * 100

    def change_text(self, name: str) -> Markup:
        change = self.change_percent(name)
        return Markup("–") if change is None else Markup("{:+.1f} %").format(change)

    def verdict(self, name: str, target_percent: float) -> str:
        change = self.change_percent(name)
        if change is None:
            return "not comparable"
        return "holds" if abs(change) <= target_percent else "misses"


def convergence_rows(figures: list[Figure]) -> list[ConvergenceRow]:
    """Pairs of (rule window, longer window) figures of one server, client count and capture."""
    pairs: dict[tuple[str, str, int], dict[str, Figure]] = {}
    for figure in figures:
        clients, factor = figure.params.get("clients"), figure.params.get("window_factor")
        if not isinstance(clients, int) or not isinstance(factor, int | float):
            continue
        side = "rule" if factor == 1 else "longer"
        pairs.setdefault((figure.server["id"], figure.capture, clients), {})[side] = figure
    rows = []
    for (server_id, capture, clients), sides in pairs.items():
        if "rule" in sides and "longer" in sides:
            rule = sides["rule"]
            rows.append(
                ConvergenceRow(
                    rule.server["name"], server_id, clients, capture, rule, sides["longer"]
                )
            )
    return rows


def template_globals() -> dict[str, object]:
    return {
        "convergence_rows": convergence_rows,
        "rate_target": RATE_TARGET_PERCENT,
        "p99_target": P99_TARGET_PERCENT,
    }
