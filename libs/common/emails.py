"""E-mail addresses in free text, found and redacted in time linear in the text's length.

Used by log redaction and by ingest's redaction of stored payloads, where any text a buyer typed
(an order note, a note attribute) passes through. The pattern only starts a match where the text
before it cannot belong to an address (the look-behind), so a long run without an ``@`` is read
once instead of once per character (the plain pattern took 13 s on 40,000 letters). It finds the
same addresses as the plain pattern: any match the plain pattern starts inside a run of address
characters, it also starts at the beginning of that run, reaching the same ``@``.
"""

from __future__ import annotations

import re

_ADDRESS = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+\.[\w.-]+")


def redact_emails(text: str, replacement: str) -> str:
    """``text`` with every e-mail address replaced by ``replacement``."""
    return _ADDRESS.sub(replacement, text) if "@" in text else text


def find_emails(text: str) -> list[str]:
    """Every e-mail address in ``text``, in order."""
    return _ADDRESS.findall(text) if "@" in text else []
