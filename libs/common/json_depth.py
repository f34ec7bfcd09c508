"""How deeply a JSON body nests, measured cheaply before anything parses or stores it.

Python's json module parses bodies nested hundreds of levels deep, but what comes after does not:
pydantic's JSON parser stops at 200 levels, PostgreSQL's jsonb and the message publisher fail
later still. So every body an HTTP endpoint accepts (the admin API in libs/common/http.py,
Shopify webhooks in services/ingest/webhook.py) is refused with 400 when it nests deeper than
:data:`MAX_JSON_DEPTH` levels. Shopify's own payloads nest about 8 levels.

The check costs little for ordinary bodies (about 10 us for Shopify's 8 KB orders): one pass keeps
only the brackets and quotes, the number of opening brackets left is an upper bound of the depth,
so only a body with more than the limit of them is measured; the measure drops string contents
(brackets inside strings do not nest), keeps the brackets, and removes innermost pairs one level
per pass, all in C-speed bytes operations.
"""

from __future__ import annotations

MAX_JSON_DEPTH = 64

_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')


def nests_deeper_than(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``body``, read as JSON, nests arrays and objects more than ``limit`` deep.

    A body that is not valid JSON (unbalanced brackets) answers False when the brackets do not
    prove it too deep: the JSON parser refuses it afterwards with its own reason.
    """
    structure = _structure(body)
    if structure.count(b"[") + structure.count(b"{") <= limit:
        return False
    brackets = _outside_strings(structure).replace(b"{", b"[").replace(b"}", b"]")
    for _ in range(limit):
        shorter = brackets.replace(b"[]", b"")
        if shorter == brackets:  # empty, or unbalanced leftovers the parser will refuse
            return False
        brackets = shorter
    return b"[]" in brackets


def _structure(body: bytes) -> bytes:
    """The brackets and the quotes that open or close a string, in order.

    In JSON a backslash only ever starts an escape inside a string, and runs of backslashes pair
    from the left, so dropping every escaped backslash and then every escaped quote leaves quotes
    that each open or close a string (most bodies have no backslash: nothing to drop).
    """
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    return body.translate(None, _NOT_STRUCTURE)


def _outside_strings(structure: bytes) -> bytes:
    """The brackets of ``structure`` that are not inside a JSON string.

    A bracket is outside every string when an even number of quotes precede it. Dropping two
    adjacent quotes keeps that parity for every bracket, so the empty pairs (nearly every string,
    once its text is gone) go in one pass; the few strings left hold brackets and are cut out.
    """
    structure = structure.replace(b'""', b"")
    if b'"' not in structure:
        return structure
    return b"".join(structure.split(b'"')[0::2])


def depth_error(limit: int = MAX_JSON_DEPTH) -> str:
    """The reason given with a 400 for a body nested too deep."""
    return f"the JSON body nests deeper than {limit} levels of arrays and objects"
