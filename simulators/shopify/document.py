"""A small reader for GraphQL operation documents (not a validating GraphQL implementation).

It tokenizes the document, reads operations and fragments, resolves `$variables` (declared
defaults honoured, missing non-null variables rejected), expands fragment spreads and applies
@skip/@include. Literal arguments are read too, but the simulator is designed for - and the app
should send - all inputs as `variables`. Variable types are not checked beyond "non-null".
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .operation import FieldNode, GraphQLError, InlineFragment, Operation, Selection

_TOKEN_RE = re.compile(
    r"""
    (?P<skip>[\s,\ufeff]+|\#[^\n\r]*)
  | (?P<block>\"\"\"(?:\\\"\"\"|[^"]|"(?!""))*\"\"\")
  | (?P<string>"(?:\\.|[^"\\\n])*")
  | (?P<spread>\.\.\.)
  | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
  | (?P<punct>[!$&()\[\]{}:=@|])
    """,
    re.VERBOSE,
)


@dataclass
class _Var:
    name: str


@dataclass
class _Token:
    kind: str
    value: str
    line: int
    column: int


@dataclass
class _RawSel:
    kind: Literal["field", "spread", "inline"]
    name: str  # field name, fragment name or type condition ("" for none)
    line: int
    column: int
    alias: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    directives: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    selections: list[_RawSel] = field(default_factory=list)


@dataclass
class _RawOp:
    kind: str
    name: str | None
    var_defs: dict[str, tuple[str, Any]]  # name -> (type text, default)
    selections: list[_RawSel]


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(source):
        match = _TOKEN_RE.match(source, pos)
        if match is None:
            raise GraphQLError(
                f"Parse error on {source[pos]!r}",
                line=line,
                column=pos - line_start + 1,
                extensions={"code": "PARSE_ERROR"},
            )
        kind = match.lastgroup or ""
        text = match.group()
        if kind != "skip":
            tokens.append(_Token(kind, text, line, pos - line_start + 1))
        newlines = text.count("\n")
        if newlines:
            line += newlines
            line_start = pos + text.rfind("\n") + 1
        pos = match.end()
    tokens.append(_Token("eof", "", line, pos - line_start + 1))
    return tokens


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = _tokenize(source)
        self.pos = 0

    def peek(self, value: str | None = None, kind: str | None = None) -> bool:
        tok = self.tokens[self.pos]
        return (value is None or tok.value == value) and (kind is None or tok.kind == kind)

    def next(self) -> _Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def expect(self, value: str | None = None, kind: str | None = None) -> _Token:
        tok = self.tokens[self.pos]
        if not self.peek(value, kind) or tok.kind == "eof":
            shown = "end of file" if tok.kind == "eof" else repr(tok.value)
            want = value or kind
            raise GraphQLError(
                f"Parse error on {shown} (expected {want})",
                line=tok.line,
                column=tok.column,
                extensions={"code": "PARSE_ERROR"},
            )
        return self.next()

    def document(self) -> tuple[list[_RawOp], dict[str, tuple[str, list[_RawSel]]]]:
        ops: list[_RawOp] = []
        fragments: dict[str, tuple[str, list[_RawSel]]] = {}
        while not self.peek(kind="eof"):
            if self.peek("{"):
                ops.append(_RawOp("query", None, {}, self.selection_set()))
            elif self.peek("fragment"):
                self.next()
                name = self.expect(kind="name").value
                self.expect("on")
                type_name = self.expect(kind="name").value
                self.directives()
                fragments[name] = (type_name, self.selection_set())
            else:
                kind = self.expect(kind="name").value
                if kind not in ("query", "mutation", "subscription"):
                    tok = self.tokens[self.pos - 1]
                    raise GraphQLError(
                        f"Parse error on {kind!r}",
                        line=tok.line,
                        column=tok.column,
                        extensions={"code": "PARSE_ERROR"},
                    )
                op_name = self.next().value if self.peek(kind="name") else None
                var_defs = self.variable_definitions()
                self.directives()
                ops.append(_RawOp(kind, op_name, var_defs, self.selection_set()))
        return ops, fragments

    def variable_definitions(self) -> dict[str, tuple[str, Any]]:
        defs: dict[str, tuple[str, Any]] = {}
        if not self.peek("("):
            return defs
        self.next()
        while not self.peek(")"):
            self.expect("$")
            name = self.expect(kind="name").value
            self.expect(":")
            type_text = self.type_ref()
            default = self.value() if self.peek("=") and self.next() else None
            self.directives()
            defs[name] = (type_text, default)
        self.expect(")")
        return defs

    def type_ref(self) -> str:
        if self.peek("["):
            self.next()
            inner = self.type_ref()
            self.expect("]")
            text = f"[{inner}]"
        else:
            text = self.expect(kind="name").value
        if self.peek("!"):
            self.next()
            text += "!"
        return text

    def directives(self) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        while self.peek("@"):
            self.next()
            out.append((self.expect(kind="name").value, self.arguments()))
        return out

    def arguments(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.peek("("):
            self.next()
            while not self.peek(")"):
                name = self.expect(kind="name").value
                self.expect(":")
                args[name] = self.value()
            self.expect(")")
        return args

    def value(self) -> Any:
        tok = self.next()
        if tok.value == "$":
            return _Var(self.expect(kind="name").value)
        if tok.kind == "number":
            return float(tok.value) if any(c in tok.value for c in ".eE") else int(tok.value)
        if tok.kind == "string":
            return json.loads(tok.value)
        if tok.kind == "block":
            return textwrap.dedent(tok.value[3:-3].replace('\\"""', '"""')).strip("\n")
        if tok.kind == "name":
            return {"true": True, "false": False, "null": None}.get(tok.value, tok.value)
        if tok.value == "[":
            items = []
            while not self.peek("]"):
                items.append(self.value())
            self.next()
            return items
        if tok.value == "{":
            obj: dict[str, Any] = {}
            while not self.peek("}"):
                key = self.expect(kind="name").value
                self.expect(":")
                obj[key] = self.value()
            self.next()
            return obj
        raise GraphQLError(
            f"Parse error on {tok.value!r}",
            line=tok.line,
            column=tok.column,
            extensions={"code": "PARSE_ERROR"},
        )

    def selection_set(self) -> list[_RawSel]:
        self.expect("{")
        out: list[_RawSel] = []
        while not self.peek("}"):
            out.append(self.selection())
        self.expect("}")
        return out

    def selection(self) -> _RawSel:
        tok = self.tokens[self.pos]
        if self.peek(kind="spread"):
            self.next()
            if self.peek(kind="name") and not self.peek("on"):
                name = self.next().value
                return _RawSel("spread", name, tok.line, tok.column, directives=self.directives())
            cond = ""
            if self.peek("on"):
                self.next()
                cond = self.expect(kind="name").value
            directives = self.directives()
            sels = self.selection_set()
            return _RawSel(
                "inline", cond, tok.line, tok.column, directives=directives, selections=sels
            )
        name = self.expect(kind="name").value
        alias = None
        if self.peek(":"):
            self.next()
            alias, name = name, self.expect(kind="name").value
        args = self.arguments()
        directives = self.directives()
        sels = self.selection_set() if self.peek("{") else []
        return _RawSel("field", name, tok.line, tok.column, alias, args, directives, sels)


class _Resolver:
    def __init__(
        self,
        variables: Mapping[str, Any],
        var_defs: dict[str, tuple[str, Any]],
        fragments: dict[str, tuple[str, list[_RawSel]]],
    ) -> None:
        self.variables = variables
        self.var_defs = var_defs
        self.fragments = fragments
        self._expanding: list[str] = []

    def value(self, raw: Any) -> Any:
        if isinstance(raw, _Var):
            if raw.name not in self.var_defs:
                raise GraphQLError(
                    f"Variable ${raw.name} is used but not declared",
                    extensions={"code": "variableNotDefined", "variableName": raw.name},
                )
            if raw.name in self.variables:
                return self.variables[raw.name]
            return self.value(self.var_defs[raw.name][1])
        if isinstance(raw, list):
            return [self.value(item) for item in raw]
        if isinstance(raw, dict):
            return {key: self.value(item) for key, item in raw.items()}
        return raw

    def included(self, directives: list[tuple[str, dict[str, Any]]]) -> bool:
        for name, args in directives:
            flag = bool(self.value(args.get("if")))
            if (name == "skip" and flag) or (name == "include" and not flag):
                return False
        return True

    def selections(self, raw: list[_RawSel]) -> list[Selection]:
        out: list[Selection] = []
        for sel in raw:
            if not self.included(sel.directives):
                continue
            if sel.kind == "field":
                args = {key: self.value(val) for key, val in sel.args.items()}
                children = self.selections(sel.selections)
                out.append(FieldNode(sel.name, sel.alias, args, children, sel.line, sel.column))
            elif sel.kind == "inline":
                children = self.selections(sel.selections)
                out.append(InlineFragment(sel.name or None, children, sel.line, sel.column))
            else:
                out.append(self.spread(sel))
        return out

    def spread(self, sel: _RawSel) -> InlineFragment:
        if sel.name not in self.fragments:
            raise GraphQLError(
                f"Fragment {sel.name} was used, but not defined",
                line=sel.line,
                column=sel.column,
                extensions={"code": "useAndDefineFragment", "fragmentName": sel.name},
            )
        if sel.name in self._expanding:
            raise GraphQLError(
                f"Fragment {sel.name} contains an infinite loop",
                line=sel.line,
                column=sel.column,
                extensions={"code": "infiniteLoop"},
            )
        type_name, raw = self.fragments[sel.name]
        self._expanding.append(sel.name)
        try:
            children = self.selections(raw)
        finally:
            self._expanding.pop()
        return InlineFragment(type_name, children, sel.line, sel.column)


def parse_operation(
    query: str,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> Operation:
    """Read `query` and return the operation to run, with variables substituted."""
    ops, fragments = _Parser(query).document()
    if not ops:
        raise GraphQLError("No operations in document", extensions={"code": "PARSE_ERROR"})
    if operation_name:
        chosen = [op for op in ops if op.name == operation_name]
        if not chosen:
            raise GraphQLError(f'No operation named "{operation_name}"')
        raw = chosen[0]
    elif len(ops) > 1:
        raise GraphQLError("An operation name is required when the document has several")
    else:
        raw = ops[0]
    if raw.kind not in ("query", "mutation"):
        raise GraphQLError(f"{raw.kind} operations are not supported by the simulator")
    values = dict(variables or {})
    for name, (type_text, default) in raw.var_defs.items():
        if type_text.endswith("!") and values.get(name) is None and default is None:
            raise GraphQLError(
                f"Variable ${name} of type {type_text} was provided invalid value",
                extensions={
                    "code": "INVALID_VARIABLE",
                    "value": None,
                    "problems": [{"path": [], "explanation": "Expected value to not be null"}],
                },
            )
    resolver = _Resolver(values, raw.var_defs, fragments)
    kind: Literal["query", "mutation"] = "mutation" if raw.kind == "mutation" else "query"
    return Operation(kind, raw.name, resolver.selections(raw.selections))
