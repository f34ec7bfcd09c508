"""The OpenAPI document cannot drift from the pydantic models the handlers parse bodies with.

The admin API's document (libs/common/openapi/admin_api.yaml) is written by hand. Where a handler
reads a request body with a pydantic model (a mapping rule: ``RuleIn``; a settings change:
``SettingsPatch``), the body's schema in the document is compared with the model's own JSON schema,
field by field and all the way down: the same fields, the same required ones, the same types,
enums and bounds, and closed (``additionalProperties: false``) exactly where the model forbids
extra fields. A field added to one and not the other fails here. The comparison's own tests below
show it bites: a field taken out of a copy of the document, or added to a subclass of a model, is
reported.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from libs.common.openapi import admin_api_spec
from services.mapper.accounting import ShopSettings
from services.mapper.rules.model import Actions, RuleIn
from services.mapper.settings_api import EDITABLE, SettingsPatch

Schema = dict[str, Any]

SETTINGS = "/admin/api/integrations/fortnox/settings.json"
SETTINGS_PREVIEW = "/admin/api/integrations/fortnox/settings/preview.json"
RULES = "/admin/api/integrations/fortnox/mapping_rules.json"
RULE = "/admin/api/integrations/fortnox/mapping_rules/{rule_id}.json"
RULE_PREVIEW = "/admin/api/integrations/fortnox/mapping_rules/preview.json"

# (method, path, property of the request body) -> the model the handler parses it with.
BODIES: dict[tuple[str, str, str], type[BaseModel]] = {
    ("put", SETTINGS, "settings"): SettingsPatch,
    ("post", SETTINGS_PREVIEW, "settings"): SettingsPatch,
    ("post", RULES, "mapping_rule"): RuleIn,
    ("put", RULE, "mapping_rule"): RuleIn,
    ("post", RULE_PREVIEW, "mapping_rule"): RuleIn,
}

# (method, path, status, property of the answer) -> the model the handler answers with, and the
# fields of it the answer shows (None: all). Bounds are what a request may send: not compared here.
ANSWERS: dict[tuple[str, str, str, str], tuple[type[BaseModel], tuple[str, ...] | None]] = {
    ("get", SETTINGS, "200", "settings"): (ShopSettings, EDITABLE),
    ("get", SETTINGS, "200", "defaults"): (ShopSettings, EDITABLE),
    ("put", SETTINGS, "200", "settings"): (ShopSettings, EDITABLE),
}

# Keywords compared when either side states them (descriptions, titles and examples are prose).
BOUNDS = (
    *("minLength", "maxLength", "pattern", "minimum", "maximum"),
    *("minItems", "maxItems", "minProperties", "maxProperties"),
)

# Bounds the document states that the model does not, because the handler checks them itself
# after the model (each with its check; the handler's tests show it refuses what breaks them).
HAND_CHECKED: dict[str, tuple[str, ...]] = {
    # AccountsPatch._rates: each account 1000-9999.
    "settings.accounts.sweden.*": ("minimum", "maximum"),
    # settings_api.parse_patch: at most MAX_VAT_RATES rates.
    "settings.accounts.sweden": ("maxProperties",),
    # settings_api._gateway_problems: a code of 1 to 50 characters per gateway.
    "settings.payment_modes.*": ("minLength", "maxLength"),
    # settings_api._location_problems: a stock point code of 1 to 50 characters per location.
    "settings.inventory_locations.*": ("minLength", "maxLength"),
}


def resolve(schema: Schema, root: Schema) -> Schema:
    """The schema with ``$ref`` followed (in the document or in the model's ``$defs``)."""
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def without_null(schema: Schema, root: Schema) -> Schema:
    """pydantic writes ``X | None`` as ``anyOf: [X, null]``: the X (the document says what
    ``null`` means in prose, or leaves a field out instead)."""
    schema = resolve(schema, root)
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        merged = {k: v for k, v in schema.items() if k != "anyOf"}
        return {**resolve(options[0], root), **merged}
    return schema


def enum_of(schema: Schema) -> set[Any] | None:
    if "enum" in schema:
        return {value for value in schema["enum"] if value is not None}
    if "const" in schema:
        return {schema["const"]}
    return None


def drift(
    documented: Schema, model: Schema, where: str, doc_root: Schema, bounds: bool = True
) -> list[str]:
    """Every difference between the document's schema and the model's, with its field path."""
    doc = without_null(documented, doc_root)
    mod = without_null(model, model)
    problems: list[str] = []
    doc_type, mod_type = doc.get("type"), mod.get("type")
    if doc_type != mod_type:
        problems.append(f"{where}: type {doc_type!r} in the document, {mod_type!r} in the model")
        return problems
    if enum_of(doc) != enum_of(mod):
        problems.append(
            f"{where}: enum {enum_of(doc)} in the document, {enum_of(mod)} in the model"
        )
    for keyword in BOUNDS if bounds else ():
        if doc.get(keyword) != mod.get(keyword):
            problems.append(
                f"{where}: {keyword} {doc.get(keyword)!r} in the document, "
                f"{mod.get(keyword)!r} in the model"
            )
    if doc_type == "array":
        problems += drift(
            doc.get("items", {}), mod.get("items", {}) | {"$defs": {}}, where, doc_root
        )
    if doc_type != "object":
        return problems
    doc_fields, mod_fields = doc.get("properties", {}), mod.get("properties", {})
    for name in sorted(set(mod_fields) - set(doc_fields)):
        problems.append(f"{where}.{name}: in the model, missing from the document")
    for name in sorted(set(doc_fields) - set(mod_fields)):
        problems.append(f"{where}.{name}: in the document, not in the model")
    if set(doc.get("required", [])) != set(mod.get("required", [])):
        problems.append(
            f"{where}: required {sorted(doc.get('required', []))} in the document, "
            f"{sorted(mod.get('required', []))} in the model"
        )
    doc_closed = doc.get("additionalProperties") is False
    mod_closed = mod.get("additionalProperties") is False
    if doc_fields and doc_closed != mod_closed:
        problems.append(
            f"{where}: extra fields {'refused' if doc_closed else 'allowed'} by the document, "
            f"{'refused' if mod_closed else 'allowed'} by the model"
        )
    for extra in ("additionalProperties",):
        doc_values, mod_values = doc.get(extra), mod.get(extra)
        if isinstance(doc_values, dict) or isinstance(mod_values, dict):
            problems += _nested(doc_values, mod_values, f"{where}.*", doc_root, model, bounds)
    for name in sorted(set(doc_fields) & set(mod_fields)):
        problems += _nested(
            doc_fields[name], mod_fields[name], f"{where}.{name}", doc_root, model, bounds
        )
    return problems


def _nested(
    documented: Any, model_part: Any, where: str, doc_root: Schema, model: Schema, bounds: bool
) -> list[str]:
    if not isinstance(documented, dict) or not isinstance(model_part, dict):
        return [f"{where}: {documented!r} in the document, {model_part!r} in the model"]
    # The model's nested schemas refer to its own $defs.
    nested = {**model_part, "$defs": model.get("$defs", {})}
    return drift(documented, nested, where, doc_root, bounds)


def body_property(spec: Schema, method: str, path: str, name: str) -> Schema:
    operation = spec["paths"][path][method]
    body = resolve(operation["requestBody"]["content"]["application/json"]["schema"], spec)
    found: Schema = body["properties"][name]
    return found


def model_drift(
    spec: Schema, method: str, path: str, name: str, model: type[BaseModel]
) -> list[str]:
    schema = model.model_json_schema(mode="validation")
    where = f"{method.upper()} {path} {name}"
    return drift(body_property(spec, method, path, name), schema, where, spec)


@pytest.mark.parametrize(("method", "path", "name"), sorted(BODIES))
def test_each_request_body_matches_the_model_its_handler_parses(
    method: str, path: str, name: str
) -> None:
    problems = model_drift(admin_api_spec(), method, path, name, BODIES[(method, path, name)])
    hand_checked = {
        f"{method.upper()} {path} {field}: {keyword} "
        for field, keywords in HAND_CHECKED.items()
        for keyword in keywords
    }
    unexplained = [p for p in problems if not any(p.startswith(h) for h in hand_checked)]
    assert unexplained == [], "\n".join(unexplained)


def answer_drift(
    spec: Schema,
    key: tuple[str, str, str, str],
    model: type[BaseModel],
    fields: tuple[str, ...] | None,
) -> list[str]:
    method, path, status, name = key
    answer = resolve(spec["paths"][path][method]["responses"][status], spec)
    body = resolve(answer["content"]["application/json"]["schema"], spec)
    schema = model.model_json_schema(mode="serialization")
    if fields is not None:
        schema["properties"] = {k: v for k, v in schema["properties"].items() if k in fields}
        schema["required"] = [k for k in schema.get("required", []) if k in fields]
    where = f"{method.upper()} {path} {status} {name}"
    return drift(body["properties"][name], schema, where, spec, bounds=False)


@pytest.mark.parametrize("key", sorted(ANSWERS))
def test_each_answer_matches_the_model_its_handler_answers_with(
    key: tuple[str, str, str, str],
) -> None:
    problems = answer_drift(admin_api_spec(), key, *ANSWERS[key])
    assert problems == [], "\n".join(problems)


def test_every_hand_checked_bound_is_stated_only_by_the_document() -> None:
    """An entry of HAND_CHECKED that the model has since taken over would hide drift."""
    problems = model_drift(admin_api_spec(), "put", SETTINGS, "settings", SettingsPatch)
    for field, keywords in HAND_CHECKED.items():
        for keyword in keywords:
            line = f"PUT {SETTINGS} {field}: {keyword} "
            assert any(p.startswith(line) for p in problems), f"{field} {keyword}: stale"


def test_a_field_missing_from_the_document_is_drift() -> None:
    spec = copy.deepcopy(admin_api_spec())
    actions = spec["components"]["schemas"]["MappingRuleActions"]["properties"]
    del actions["cost_center"]
    del actions["accounts"]["properties"]["tips"]
    problems = model_drift(spec, "post", RULES, "mapping_rule", RuleIn)
    assert any(".actions.cost_center: in the model, missing" in p for p in problems), problems
    assert any(".actions.accounts.tips: in the model, missing" in p for p in problems), problems


def test_a_field_only_in_the_document_or_a_changed_enum_or_bound_is_drift() -> None:
    spec = copy.deepcopy(admin_api_spec())
    settings = spec["components"]["schemas"]["ShopSettings"]["properties"]
    settings["invoice_prefix"] = {"type": "string"}
    settings["shipping_as"]["enum"] = ["row"]
    settings["guest_customer_name"]["maxLength"] = 2048
    problems = model_drift(spec, "put", SETTINGS, "settings", SettingsPatch)
    assert any(".invoice_prefix: in the document, not in the model" in p for p in problems)
    assert any(".shipping_as: enum" in p for p in problems), problems
    assert any(".guest_customer_name: maxLength 2048" in p for p in problems), problems


def test_a_field_the_answer_shows_but_the_document_leaves_out_is_drift() -> None:
    spec = copy.deepcopy(admin_api_spec())
    del spec["components"]["schemas"]["ShopSettings"]["properties"]["sku_policy"]
    key = ("get", SETTINGS, "200", "settings")
    problems = answer_drift(spec, key, *ANSWERS[key])
    assert any(".sku_policy: in the model, missing" in p for p in problems), problems


def test_a_field_added_to_a_model_is_drift() -> None:
    class WiderActions(Actions):
        invoice_prefix: str | None = Field(default=None, max_length=10)

    class WiderRule(RuleIn):
        model_config = ConfigDict(extra="forbid", frozen=True)
        actions: WiderActions

    problems = model_drift(admin_api_spec(), "post", RULES, "mapping_rule", WiderRule)
    assert any(".actions.invoice_prefix: in the model, missing" in p for p in problems), problems
