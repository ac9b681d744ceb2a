"""Who is calling: the account a request acts for.

``current_account()`` is what every view uses to scope jobs; the authentication hook that
sets ``g.account`` from the bearer API key lives here too.
"""

from __future__ import annotations

from flask import g

ANONYMOUS_ACCOUNT = "default"
"""Account of requests in unauthenticated mode (and of jobs made by the embedded CLI)."""


def current_account() -> str:
    """The account of the current request."""
    return g.get("account", ANONYMOUS_ACCOUNT)
