"""Hypothesis strategies for the JSON Schemas pydantic writes for tool inputs.

hypothesis-jsonschema would be the library for this, but its last release (0.23) breaks against current Hypothesis
(it uses internals Hypothesis has since removed), so this covers the keywords our tools' schemas use: ``type``,
``properties``/``required``/``additionalProperties``, ``items``, ``anyOf``, ``enum``, ``$ref``/``$defs``,
``format: date-time``, ``minimum``/``maximum``/``exclusiveMinimum``. Anything else fails loudly, so a new keyword
is noticed rather than ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from tests.property.conftest import json_values, text

HANDLED = {
    "type", "properties", "required", "additionalProperties", "items", "anyOf", "enum", "$ref", "$defs",
    "format", "minimum", "maximum", "exclusiveMinimum", "default", "description", "title",
}  # fmt: skip
# Times near the demo world's and far from it, so both "found" and "nothing there" come up.
MOMENTS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


def from_schema(schema: dict[str, Any], root: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Values ``schema`` accepts (``root`` holds the ``$defs`` a ``$ref`` points into)."""
    root = root if root is not None else schema
    unknown = set(schema) - HANDLED
    if unknown:
        raise ValueError(f"schema keywords not covered by tests/property/schemas.py: {sorted(unknown)}")
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return st.deferred(lambda: from_schema(root["$defs"][name], root))
    if "anyOf" in schema:
        return st.one_of([from_schema(option, root) for option in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        return _object(schema, root)
    if kind == "array":
        items = from_schema(schema.get("items", {}), root) if schema.get("items") else json_values
        return st.lists(items, max_size=3)
    if kind == "string":
        if schema.get("format") == "date-time":
            return MOMENTS.map(lambda moment: moment.isoformat())
        return text
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum")
        if kind == "integer":
            low = None if low is None else int(low) + (1 if "exclusiveMinimum" in schema else 0)
            return st.integers(min_value=low, max_value=high)
        return st.floats(
            min_value=low,
            max_value=high,
            exclude_min="exclusiveMinimum" in schema,
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return json_values  # no type: anything JSON


def _object(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    fields = {name: from_schema(sub, root) for name, sub in properties.items()}
    chosen = st.fixed_dictionaries(
        {name: value for name, value in fields.items() if name in required},
        optional={name: value for name, value in fields.items() if name not in required},
    )
    extra = schema.get("additionalProperties")
    if not properties and extra not in (None, False):
        values = from_schema(extra, root) if isinstance(extra, dict) and extra else json_values
        return st.dictionaries(text, values, max_size=3)
    return chosen
