"""Where Reflex serves the console, made the default of OpsPilot's ``console_url`` (the base of absolute links).

core_client may not import Reflex, so that default (``core_client.settings.served_console_url``) reads Reflex's
own environment variables, ``REFLEX_DEPLOY_URL`` and ``REFLEX_FRONTEND_PORT``. ``reflex run`` exports the port it
settled on to its backend workers, but a ``deploy_url`` or ``frontend_port`` written in rxconfig.py reaches neither
the backend's environment (the deploy URL) nor the ``opspilot`` command line (which runs no Reflex at all), whose
links would then point at ``http://localhost:3000`` whatever rxconfig says. :func:`adopt_reflex_address` puts
Reflex's own answer where that default finds it. ``OPSPILOT_CONSOLE_URL`` or ``console_url`` in opspilot.toml still
win over it.
"""

from __future__ import annotations

import os

DEPLOY_URL_ENV = "REFLEX_DEPLOY_URL"


def adopt_reflex_address() -> None:
    """Let this process's ``console_url`` default to Reflex's address for the console: rxconfig's ``deploy_url``,
    else ``http://localhost:<frontend port>`` (rxconfig's, ``--frontend-port``'s or Reflex's default), with
    Reflex's environment variables applied as Reflex applies them. Reflex's config is read from rxconfig.py in the
    working directory; without one it is Reflex's default address."""
    # Imported here: the command line loads Reflex's config only, not the app.
    from reflex.config import get_config

    os.environ.setdefault(DEPLOY_URL_ENV, get_config().deploy_url)
