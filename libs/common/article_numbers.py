"""SKU -> Fortnox article number, by a documented, reversible rule (shared: the mapper's order
and catalog planning, ingest's inventory sync).

Fortnox article numbers are at most 50 characters; this rule keeps only characters every Fortnox
company accepts: ASCII letters, digits, ``-`` and ``.``. Every other character (including ``_``
itself, spaces, å ä ö, ``/``) becomes ``_`` followed by the two upper-case hex digits of each of
its UTF-8 bytes: ``"Mugg blå/L"`` -> ``"Mugg_20bl_C3_A5_2FL"``. Because ``_`` is always escaped,
``sku_from_article_number`` gives back the exact SKU. Most SKUs pass unchanged.
"""

from __future__ import annotations

import re

MAX_LENGTH = 50
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")
_ESCAPE = re.compile(r"_([0-9A-F]{2})")


def article_number(sku: str) -> str:
    out: list[str] = []
    for char in sku:
        if char in _SAFE:
            out.append(char)
        else:
            out.extend(f"_{byte:02X}" for byte in char.encode())
    return "".join(out)


def sku_from_article_number(number: str) -> str:
    """The SKU an article number was made from (the inverse of ``article_number``)."""
    out = bytearray()
    index = 0
    while index < len(number):
        if _ESCAPE.match(number, index):
            out.append(int(number[index + 1 : index + 3], 16))
            index += 3
        else:
            out.extend(number[index].encode())
            index += 1
    return out.decode()
