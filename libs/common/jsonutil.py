"""JSON for external APIs with Decimal money written as exact numbers (never via float)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def dumps(value: Any) -> str:
    """Serialise ``value``; Decimals become JSON numbers with their exact digits."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite amount: {value}")
        return format(value, "f")
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(key))}:{dumps(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    return json.dumps(value)


def loads(text: str | bytes) -> Any:
    """Parse JSON keeping every fractional number as a Decimal."""
    return json.loads(text, parse_float=Decimal)
