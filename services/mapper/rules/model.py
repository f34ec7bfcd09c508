"""A shop's mapping rules as data: conditions and actions, validated when saved.

A rule is ``{"name", "enabled", "conditions", "actions"}``. ``conditions`` is a tree
(conditions.py; absent: every order); ``actions`` override the shop's default settings for the
orders the rule matches (actions.py). Every error names the field path, e.g.
``mapping_rule.actions.fields.Remarks: unknown filter 'eval' ... (at character 9)``. Which
Fortnox fields the templates (``fields``, ``customer_fields``, ``row_fields``) may set:
fields.py.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.mapper.problems import path, plain
from services.mapper.rules.conditions import ConditionError, parse_condition
from services.mapper.rules.fields import HEADER_FIELDS, FieldTemplateError, check_templates

TEMPLATE_FIELDS = HEADER_FIELDS
MAX_RULES = 200
MAX_RULE_BYTES = 16 * 1024  # one rule as JSON (its name, conditions and templates)
MAX_RULE_SET_BYTES = 256 * 1024  # a shop's whole rule list as JSON (one stored version)
STORED = {"stored": True}  # validation context of rules read back from the database


def _stored(info: ValidationInfo) -> bool:
    return bool(isinstance(info.context, dict) and info.context.get("stored"))


def code_field(description: str) -> Any:
    """A Fortnox code (price list, project, cost centre, way of delivery, ...): 1 to 50
    characters, none of them a control character; absent when not given. The rules' patches
    and the settings' (services/mapper/settings_api.py) declare theirs with it."""
    return Field(
        default=None,
        min_length=1,
        max_length=50,
        pattern=r"^[^\x00-\x1f]+$",
        description=description,
    )


class AccountsPatch(BaseModel):
    """Sales accounts to use instead of the shop's (only the ones given change)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sweden: dict[str, int] | None = Field(
        default=None, description='Swedish sales by VAT rate in percent, e.g. {"25": 3001}.'
    )
    eu_vat: int | None = Field(default=None, ge=1000, le=9999)
    eu_vat_free: int | None = Field(default=None, ge=1000, le=9999)
    export: int | None = Field(default=None, ge=1000, le=9999)
    shipping: int | None = Field(default=None, ge=1000, le=9999)
    tips: int | None = Field(default=None, ge=1000, le=9999)
    duties: int | None = Field(default=None, ge=1000, le=9999)
    rounding: int | None = Field(default=None, ge=1000, le=9999)
    gift_card_liability: int | None = Field(default=None, ge=1000, le=9999)

    @field_validator("sweden")
    @classmethod
    def _rates(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        for rate, account in (value or {}).items():
            try:
                number = Decimal(rate)
            except InvalidOperation:
                number = Decimal(-1)
            if not number.is_finite() or not 0 <= number <= 100:
                raise ValueError(f'{rate!r} is not a VAT rate in percent (e.g. "25")')
            if not 1000 <= account <= 9999:
                raise ValueError(f"account {account} for {rate} % is not a 4-digit account")
        return value


class Actions(BaseModel):
    """What a matching rule changes; every action left out keeps the shop's default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    document_kind: Literal["invoice", "order", "none"] | None = None
    trigger: Literal["create", "paid", "fulfilled"] | None = None
    bookkeep: bool | None = Field(default=None, description="Bookkeep (true) or leave a draft.")
    send_email: bool | None = None
    accounts: AccountsPatch | None = None
    article_number_source: Literal["sku", "barcode", "variant_id", "metafield"] | None = None
    article_metafield: str | None = Field(default=None, min_length=1, max_length=100)
    customer_match: Literal["email", "organisation_number"] | None = None
    guest_customer_name: str | None = Field(default=None, min_length=1, max_length=1024)
    terms_of_payment: str | None = code_field("Fortnox TermsOfPayment code, e.g. 30.")
    our_reference: str | None = Field(default=None, min_length=1, max_length=50)
    cost_center: str | None = code_field("Fortnox CostCenter code.")
    project: str | None = code_field("Fortnox Project number.")
    price_list: str | None = code_field("Fortnox PriceList code.")
    language: Literal["SV", "EN"] | None = None
    shipping_as: Literal["row", "freight"] | None = None
    document_currency: Literal["presentment", "shop"] | None = None
    currency_rate: Literal["explicit", "fortnox"] | None = None
    booking: Literal["per_order", "daily_summary"] | None = Field(
        default=None,
        description="daily_summary: the matching orders are booked in one document per day, "
        "currency and VAT profile (summary mode, docs/accounting.md).",
    )
    fields: dict[str, str] = Field(
        default_factory=dict, description="Fortnox header field -> template (templates.py)."
    )
    customer_fields: dict[str, str] = Field(
        default_factory=dict,
        description="Fortnox customer field -> template over the order, for a new customer.",
    )
    row_fields: dict[str, str] = Field(
        default_factory=dict,
        description="Fortnox row field -> template over each line item (the order: order.).",
    )

    @field_validator("fields", "customer_fields", "row_fields")
    @classmethod
    def _templates(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if _stored(info):  # checked when saved; read back as they were
            return value
        return check_templates(str(info.field_name), value)

    @model_validator(mode="after")
    def _metafield(self) -> Actions:
        if self.article_number_source == "metafield" and not self.article_metafield:
            raise ValueError(
                "article_metafield is required when article_number_source is metafield"
            )
        return self


class RuleIn(BaseModel):
    """A rule as the admin API takes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    conditions: dict[str, Any] | None = Field(
        default=None, description="conditions.py; absent: every order."
    )
    actions: Actions

    @field_validator("conditions", mode="before")
    @classmethod
    def _conditions(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or _stored(info):
            return value
        return parse_condition(value)


class Rule(RuleIn):
    id: int


class RuleSet(BaseModel):
    """A shop's rules in order at one version (0: never changed, no rules)."""

    model_config = ConfigDict(frozen=True)

    version: int = 0
    rules: list[Rule] = Field(default_factory=list)

    @classmethod
    def stored(cls, version: int, rules: list[dict[str, Any]]) -> RuleSet:
        """A version read back from the database: not re-checked (it was when saved)."""
        return cls.model_validate({"version": version, "rules": rules}, context=STORED)


def rules_json(rules: list[Rule]) -> str:
    return json.dumps([rule.model_dump(mode="json") for rule in rules])


class RuleValidationError(ValueError):
    """Invalid rule: every problem as (field path, message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))


def validate_rule(data: Any, prefix: str = "mapping_rule") -> RuleIn:
    """The rule, or RuleValidationError naming each bad field by its path."""
    if not isinstance(data, dict):
        raise RuleValidationError([(prefix, "an object is required")])
    try:
        rule = RuleIn.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            cause = (error.get("ctx") or {}).get("error")
            loc = tuple(p for p in error["loc"] if p)
            if isinstance(cause, ConditionError):
                problems.append((path(prefix, loc) + _sub(cause.path), cause.message))
                continue
            if isinstance(cause, FieldTemplateError):  # name each template's Fortnox field
                problems += [(path(prefix, (*loc, n)), m) for n, m in cause.problems]
                continue
            problems.append((path(prefix, loc), plain(error)))
        raise RuleValidationError(problems) from exc
    size = len(rule.model_dump_json())
    if size > MAX_RULE_BYTES:
        raise RuleValidationError(
            [
                (
                    prefix,
                    f"the rule takes {size:,} bytes as JSON; a rule may take at most "
                    f"{MAX_RULE_BYTES:,} (split it into several rules)",
                )
            ]
        )
    return rule


def _sub(path: str) -> str:
    return "" if not path else (path if path.startswith("[") else f".{path}")
