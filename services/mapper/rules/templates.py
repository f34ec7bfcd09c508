"""Field templates: Liquid (python-liquid) over the Shopify order, with every step bounded.

A template is Liquid text: output statements with filters, and the branching tags::

    Order {{ name }} for {{ billing_address.company | default: 'private' | upcase }}
    {{ line_items[0].sku | slice: 0, 20 }}
    {{ note_attributes | where: 'name', 'PO' | map: 'value' | first }}
    {% if billing_address.company %}Company{% else %}Private{% endif %}

What a template can use (and nothing else):

- the order payload's fields by path (``a.b``, ``a[0]``, ``a['b c']``); no other variables (no
  ``now``, no globals), no includes or renders of files, no Python objects (the order is JSON);
- tags ``if``/``elsif``/``else``, ``unless``, ``case``/``when``, ``comment``, ``raw``; no loops,
  no ``assign``/``capture``, no ``include``/``render``; no range literals ``(1..n)``;
- the filters of ``template_filters.FILTERS``.

Limits (``template_work``): a template is at most ``MAX_TEMPLATE_LENGTH`` characters and nests
blocks at most ``MAX_NESTING`` deep; every value it reads or makes is at most ``MAX_VALUE``
characters or ``MAX_ITEMS`` items, every filter's result is measured (or predicted) before the
next filter runs, and each rendering and each order has a budget of filter calls and characters.
A rendered field longer than ``MAX_OUTPUT`` characters is cut there. Going over a limit raises
``TemplateLimitError``; a template that does not parse raises ``TemplateError`` with the
position. ``check`` (when a rule is saved or previewed) parses the template and tries it on the
sample order, so a template that amplifies what it is given is refused before it ever runs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from liquid import BoundTemplate, Environment, RenderContext
from liquid.ast import ConditionalBlockNode, Node
from liquid.builtin import content, illegal
from liquid.builtin.expressions.arguments import KeywordArgument
from liquid.builtin.expressions.filtered import (
    Filter,
    FilteredExpression,
    TernaryFilteredExpression,
)
from liquid.builtin.expressions.primitive import RangeLiteral
from liquid.builtin.output import Output, OutputNode
from liquid.builtin.tags import case_tag, comment_tag, if_tag, inline_comment_tag, unless_tag
from liquid.exceptions import LiquidError, OutputStreamLimitError
from liquid.expression import Expression
from liquid.mode import Mode
from liquid.output import LimitedStringIO
from liquid.utils import ReadOnlyChainMap

from services.mapper.rules.sample_order import SAMPLE_LINE_ITEM, SAMPLE_ORDER
from services.mapper.rules.template_filters import ARGUMENTS, FILTERS, WORK
from services.mapper.rules.template_work import (
    MAX_TEMPLATE_WORK,
    MAX_VALUE,
    TemplateLimitError,
    Work,
    bounded_view,
)

MAX_TEMPLATE_LENGTH = 1000
MAX_OUTPUT = MAX_VALUE
MAX_NESTING = 10

__all__ = [
    "MAX_OUTPUT",
    "MAX_TEMPLATE_LENGTH",
    "TemplateError",
    "TemplateLimitError",
    "TemplateRenderError",
    "Work",
    "bounded_view",
    "check",
    "parse",
    "render",
]


class TemplateError(ValueError):
    """A template that is refused: what is wrong and, when known, at which character."""

    def __init__(self, message: str, position: int | None = None) -> None:
        where = "" if position is None else f" (at character {position + 1})"
        super().__init__(f"{message}{where}")
        self.message = message
        self.position = position


class TemplateRenderError(ValueError):
    """A template that parsed but could not be filled from this order (e.g. a filter argument
    of the wrong kind); the message says what."""


class _Context(RenderContext):
    """A render context whose only variables are the ones given: no ``now``/``today``."""

    def __init__(self, template: BoundTemplate, **kwargs: Any) -> None:
        super().__init__(template, **kwargs)
        self.scope = ReadOnlyChainMap(self.locals, self.globals)


class _Template(BoundTemplate):
    context_class = _Context

    def make_partial_namespace(
        self, partial: bool, render_args: Mapping[str, object]
    ) -> Mapping[str, object]:
        return dict(render_args)  # no "partial" variable


class _FieldOutputNode(OutputNode):
    """``{{ ... }}``: the value as Fortnox field text (template_work.as_text), counted."""

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        work = context.tag_namespace[WORK]
        text = work.text(self.expression.evaluate(context))
        work.charge("an output", len(text))
        return buffer.write(text)


class _FieldOutput(Output):
    node_class = _FieldOutputNode


class FieldTemplates(Environment):
    """The one Liquid environment of field templates: only the tags and filters listed above,
    strict parsing (unknown tags and filters are errors), python-liquid's resource limits on."""

    block_nesting_limit = MAX_NESTING
    context_depth_limit = 4
    loop_iteration_limit = 0  # no loop tag is registered; were one added, it could not loop
    local_namespace_limit = 1_000  # no assign/capture is registered either
    output_stream_limit = MAX_TEMPLATE_WORK
    template_class = _Template

    def setup_tags_and_filters(self, *, extra: bool = False) -> None:
        for tag in (
            content.Literal,
            _FieldOutput,
            illegal.Illegal,
            if_tag.IfTag,
            unless_tag.UnlessTag,
            case_tag.CaseTag,
            comment_tag.CommentTag,
            inline_comment_tag.InlineCommentTag,
        ):
            self.add_tag(tag)
        for name, func in FILTERS.items():
            self.add_filter(name, func)


@functools.cache
def _environment() -> FieldTemplates:
    return FieldTemplates(tolerance=Mode.STRICT, strict_filters=True, autoescape=False)


def _position(exc: LiquidError) -> int | None:
    token = exc.token
    return None if token is None or token.start_index < 0 else token.start_index


def _nodes(template: BoundTemplate) -> Iterator[Node]:
    static = _Context(template)
    pending: list[Node] = list(template.nodes)
    while pending:
        node = pending.pop()
        yield node
        pending.extend(node.children(static, include_partials=False))


def _expressions(node: Node) -> Iterator[Expression]:
    pending = list(node.expressions())
    while pending:
        expression = pending.pop()
        yield expression
        pending.extend(expression.children())


def _check_filter(flt: Filter) -> None:
    where = flt.token.start_index
    if flt.name not in FILTERS:
        known = ", ".join(sorted(FILTERS))
        raise TemplateError(f"unknown filter '{flt.name}'; known filters: {known}", where)
    fewest, most, keywords = ARGUMENTS[flt.name]
    positional = [a for a in flt.args if not isinstance(a, KeywordArgument)]
    named = [a.name for a in flt.args if isinstance(a, KeywordArgument)]
    unknown = [name for name in named if name not in keywords]
    if unknown:
        raise TemplateError(f"the filter '{flt.name}' has no argument '{unknown[0]}'", where)
    if not fewest <= len(positional) <= most:
        wanted = str(fewest) if fewest == most else f"{fewest} to {most}"
        raise TemplateError(
            f"the filter '{flt.name}' takes {wanted} argument{'' if most == 1 else 's'}, "
            f"not {len(positional)}",
            where,
        )


class _CountedCondition(Expression):
    """A tag's condition, counted as one step of the template's and the order's budgets (with
    the order read through bounded_view, each comparison costs at most a few thousand
    character steps)."""

    __slots__ = ("inner",)

    def __init__(self, inner: Expression) -> None:
        super().__init__(inner.token)
        self.inner = inner

    def evaluate(self, context: RenderContext) -> object:
        context.tag_namespace[WORK].charge("a condition", 100)
        return self.inner.evaluate(context)

    def children(self) -> list[Expression]:
        return [self.inner]


_CONDITION_NODES = (
    if_tag.IfNode,
    unless_tag.UnlessNode,
    ConditionalBlockNode,
    case_tag.MultiExpressionBlockNode,
)


def _count_conditions(template: BoundTemplate) -> None:
    for node in _nodes(template):
        if isinstance(node, _CONDITION_NODES):
            attribute = "condition" if hasattr(node, "condition") else "expression"
            inner = getattr(node, attribute)
            if not isinstance(inner, _CountedCondition):
                setattr(node, attribute, _CountedCondition(inner))


def _check_expressions(template: BoundTemplate) -> None:
    """What the parser lets through but field templates refuse: ranges (a range is a list of
    any length), unknown filters and filters given the wrong number of arguments."""
    for node in _nodes(template):
        for expression in _expressions(node):
            if isinstance(expression, RangeLiteral):
                raise TemplateError(
                    "ranges like (1..5) are not available in field templates",
                    expression.token.start_index,
                )
            if isinstance(expression, FilteredExpression | TernaryFilteredExpression):
                for flt in expression.filters or ():
                    _check_filter(flt)


@functools.lru_cache(maxsize=1024)
def parse(text: str) -> BoundTemplate:
    """The compiled template (cached by its text: a compiled template of the longest kind takes
    about 50 KB, so the cache holds at most about 50 MB); raises TemplateError naming what is
    wrong. Parsing costs about 4 ms per 1,000 characters, so a rule (at most 16 KB) parses in
    well under 100 ms when none of it is cached."""
    if not isinstance(text, str):
        raise TemplateError("a template is a text")
    if len(text) > MAX_TEMPLATE_LENGTH:
        raise TemplateError(f"a template is at most {MAX_TEMPLATE_LENGTH:,} characters")
    try:
        template = _environment().from_string(text)
    except LiquidError as exc:
        raise TemplateError(_liquid_message(exc), _position(exc)) from exc
    except RecursionError as exc:
        raise TemplateError("the template nests too deeply") from exc
    _check_expressions(template)
    _count_conditions(template)
    return template


def _liquid_message(exc: LiquidError) -> str:
    message = str(exc.message)
    if "unexpected tag" in message or "unknown tag" in message:
        message += " (field templates offer if, unless, case, comment and raw)"
    if "unknown filter" in message:
        message += "; known filters: " + ", ".join(sorted(FILTERS))
    return message


def render(text: str, data: Mapping[str, Any], work: Work | None = None) -> str:
    """The template filled from ``data`` (a bounded view of the order, see ``bounded_view``).

    Raises TemplateError (does not parse), TemplateLimitError (over a cap) or
    TemplateRenderError (could not be filled from this data).
    """
    work = work or Work()
    work.start_template()
    if "{" not in text and len(text) <= MAX_TEMPLATE_LENGTH:  # plain text: nothing to fill
        work.charge("an output", len(text))
        return text
    template = parse(text)
    context = _Context(template, globals=data)
    context.tag_namespace[WORK] = work
    buffer = LimitedStringIO(limit=_environment().output_stream_limit or MAX_TEMPLATE_WORK)
    try:
        template.render_with_context(context, buffer)
    except TemplateLimitError:
        raise
    except OutputStreamLimitError as exc:
        raise TemplateLimitError("the template writes too much text") from exc
    except LiquidError as exc:
        raise TemplateRenderError(str(exc.message)) from exc
    except (ArithmeticError, ValueError, TypeError, OverflowError) as exc:
        raise TemplateRenderError(f"{type(exc).__name__}: {exc}") from exc
    return buffer.getvalue()[:MAX_OUTPUT]


def check(text: str, kind: str = "fields") -> BoundTemplate:
    """Refuse a template that does not parse or that goes over a cap on the sample order (what
    a rule's save and preview do); row templates are tried on the sample line item."""
    template = parse(text)
    data: dict[str, Any] = SAMPLE_ORDER
    if kind == "row_fields":
        data = {**SAMPLE_LINE_ITEM, "order": SAMPLE_ORDER, "property": {"project": "P1"}}
    try:
        render(text, data, Work(probe=True))
    except TemplateLimitError as exc:
        raise TemplateError(f"the template is too costly: {exc}") from exc
    except TemplateRenderError as exc:
        raise TemplateError(f"the template cannot be filled: {exc}") from exc
    return template
