"""How long the free text a caller sends may be: one documented limit per kind of field.

Every admin API field that takes free text checks its length here and answers with the field's
name (422 in a JSON body, 400 in a query string), so no caller can store a megabyte in a reason
or a label. The limits (docs/api.md, "Limits"):

| what | limit (characters) |
|---|---|
| any query parameter value (every service, every route; libs/common/http.py) | 1024 |
| names, labels, ids and filter values in a body (a rule's name, a label, ``cause``...) | 200 |
| reasons (discarding a failed job) | 2000 |
| a timeline note | 5000 |
"""

from __future__ import annotations

from typing import Any

MAX_QUERY_VALUE = 1024
MAX_NAME = 200
MAX_REASON = 2000
MAX_NOTE = 5000


class FieldError(ValueError):
    """A field the caller got wrong; ``field`` names it, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def text_field(value: Any, field: str, max_length: int, *, required: bool = True) -> str | None:
    """``value`` as a stripped string of at most ``max_length`` characters, else FieldError.

    Not required: None (or absent) gives None.
    """
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise FieldError(field, "a non-empty string is required")
    if len(value) > max_length:
        raise FieldError(field, f"at most {max_length} characters (got {len(value)})")
    return value.strip()
