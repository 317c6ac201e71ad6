"""Logging setup that also routes Python warnings into logging."""

import logging
import logging.config


def configure_logging(config: dict) -> None:
    """Apply LOGGING and capture warnings, so Django's streaming warnings reach the server log.

    Django warns (with ``warnings.warn``, not a logger) when it has to buffer a streaming
    response whose iterator does not match the handler (sync iterator under ASGI, async under
    WSGI). Those warnings are results the harness looks for in each server's stderr.
    """
    logging.config.dictConfig(config)
    logging.captureWarnings(True)
