"""Day-two operations: what happens to a running server, sized as deployed, when clients leave,
database connections age, long work meets timeouts, workers are reloaded, recycled or killed
under load, memory grows and a proxy stands in front. Each module holds one operation."""

from harness.checks.operations import database_connections

CHECKS = [
    *database_connections.CHECKS,
]
