"""JSON in and out the way Fortnox does it.

Out: Decimals become JSON numbers (integral values without a fraction: ``219`` not ``219.0``),
non-ASCII is escaped like Fortnox does. In: ``{"<Entity>": {...}}`` envelopes, parsed with
``parse_float=Decimal``; invalid JSON answers 2002115, a body that is not the expected envelope
answers 2001392.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from aiohttp import web

from simulators.fortnox import errors


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        return float(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(data: Any) -> str:
    return json.dumps(data, default=_default)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=dumps(data), status=status, content_type="application/json")


def error_response(exc: errors.ApiError) -> web.Response:
    return json_response(exc.body(), status=exc.status)


def number_text(value: Decimal) -> str:
    """A Decimal as Fortnox writes numbers-in-strings: ``"1"``, ``"1.5"``, ``"-8"``."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


async def read_envelope(request: web.Request, key: str, *, required: bool = True) -> dict[str, Any]:
    """Read ``{"<key>": {...}}``; an empty body gives ``{}`` when not ``required``."""
    raw = await request.read()
    if not raw.strip():
        if required:
            raise errors.bad_request(errors.BAD_BODY, f"{key} saknas")
        return {}
    try:
        data = loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise errors.bad_request(errors.JSON_SYNTAX) from None
    if not isinstance(data, dict) or set(data) != {key} or not isinstance(data[key], dict):
        raise errors.bad_request(errors.BAD_BODY, f'förväntade {{"{key}": {{...}}}}')
    body: dict[str, Any] = data[key]
    return body
