"""Hypothesis settings for the property suite, and what "a rejection that says why" means.

CI runs the ``ci`` profile: derandomized (the same examples every run, so CI is stable) and bounded. Explore more
with ``HYPOTHESIS_PROFILE=deep pytest tests/property``: random examples, many more of them. A failure prints the
smallest example that shows it.
"""

from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

settings.register_profile(
    "ci",
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "deep",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# An untyped exception's text, wrapped on its way out ("incidents.query failed: KeyError: 'x'"): a crash, not a reason.
CRASH = re.compile(r"\b(?:[A-Z]\w*Error|Exception|Traceback)\b(?::|\s\(most)")

# Text as people and attackers type it: any characters, control characters and odd quotes included.
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
# Any JSON value, nested a little.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)


def says_why(message: str) -> bool:
    """A rejection a person can act on: a sentence of its own, not empty, and not a crash's text passed along."""
    message = message.strip()
    return len(message) >= 8 and not CRASH.search(message)
