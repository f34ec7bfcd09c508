"""What ``fortbridge`` commands print: prose for people, or with ``--json`` one JSON object on
stdout for scripts, and the exit codes both share (README, "The fortbridge command").

Exit codes: 0 done (``quiet``: the deployment is quiet); 1 done, and the answer is no (not quiet,
no such token, tokens no key decrypts, a namespace still in use); 2 the command or its input is
wrong (argparse's own code too); 3 a server it needs (PostgreSQL, RabbitMQ, Fortnox) could not be
reached or refused. With ``--json`` an error is ``{"error": "..."}`` on stdout; without, the
reason goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import Any

OK = 0
NO = 1
USAGE = 2
UNAVAILABLE = 3


def json_flag() -> argparse.ArgumentParser:
    """A parent parser that gives a subcommand ``--json``."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout (for scripts)"
    )
    return parent


class Output:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def result(self, data: dict[str, Any], text: str | Iterable[str]) -> None:
        if self.as_json:
            print(json.dumps(data, default=str, sort_keys=False))
            return
        for line in [text] if isinstance(text, str) else text:
            print(line)

    def error(self, message: str, code: int, **extra: Any) -> int:
        if self.as_json:
            print(json.dumps({"error": message, **extra}, default=str))
        else:
            print(f"error: {message}", file=sys.stderr)
        return code
