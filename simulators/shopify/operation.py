"""The parsed form of a GraphQL operation, and the error type reported to clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


class GraphQLError(Exception):
    """An error reported in the response's top-level "errors" list."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        path: list[str | int] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line, self.column = line, column
        self.path = path
        self.extensions = extensions

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.line is not None:
            out["locations"] = [{"line": self.line, "column": self.column}]
        if self.path is not None:
            out["path"] = self.path
        if self.extensions:
            out["extensions"] = self.extensions
        return out


@dataclass
class FieldNode:
    name: str
    alias: str | None
    args: dict[str, Any]  # variables already substituted
    selections: list[Selection] = field(default_factory=list)
    line: int = 0
    column: int = 0

    @property
    def response_key(self) -> str:
        return self.alias or self.name


@dataclass
class InlineFragment:
    type_condition: str | None
    selections: list[Selection]
    line: int = 0
    column: int = 0


Selection = FieldNode | InlineFragment


@dataclass
class Operation:
    kind: Literal["query", "mutation"]
    name: str | None
    selections: list[Selection]

    @property
    def root_fields(self) -> list[FieldNode]:
        out: list[FieldNode] = []
        stack: list[Selection] = list(reversed(self.selections))
        while stack:
            sel = stack.pop()
            if isinstance(sel, InlineFragment):
                stack.extend(reversed(sel.selections))
            else:
                out.append(sel)
        return out
