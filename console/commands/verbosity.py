"""How much the ``opspilot`` command says about itself: warnings only, unless asked with ``-v`` or ``-vv``.

Libraries log their routine at INFO (httpx and httpx2: one "HTTP Request: ..." line per request; the MCP SDK
configures the root logger at INFO when a server is built), which would drown a command's own output. So the
CLI configures logging first, on stderr, and holds those libraries at WARNING unless ``-v`` is given.
"""

from __future__ import annotations

import logging
import os
import sys

# Loggers of libraries whose INFO lines are routine (a request made, a session opened), not news.
CHATTY_LIBRARIES = ("httpx", "httpx2", "httpcore", "httpcore2", "mcp", "anthropic", "uvicorn", "alembic")
LEVEL_ENV = "OPSPILOT_LOG_LEVEL"


def configure(verbosity: int) -> None:
    """Log to stderr: warnings (or ``OPSPILOT_LOG_LEVEL``) by default, INFO with ``-v``, DEBUG with ``-vv``.

    Library loggers stay at WARNING unless ``-v`` is given. Called once, before any command builds anything, so
    a library's own ``basicConfig`` later finds logging configured and leaves it alone.
    """
    if verbosity >= 2:
        level = logging.DEBUG
    elif verbosity == 1:
        level = logging.INFO
    else:
        named = logging.getLevelName(os.environ.get(LEVEL_ENV, "WARNING").strip().upper())
        level = named if isinstance(named, int) else logging.WARNING
    logging.basicConfig(
        stream=sys.stderr, level=level, format="%(levelname)s %(name)s: %(message)s", force=True
    )
    for library in CHATTY_LIBRARIES:
        logging.getLogger(library).setLevel(level if verbosity else max(level, logging.WARNING))
