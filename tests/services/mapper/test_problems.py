"""Validation problems in plain words (services/mapper/problems.py), read off real pydantic
errors of the settings and the rules, so a pydantic upgrade that renames a type shows here."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.mapper import settings_api
from services.mapper.problems import path, plain


class _Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: int = Field(default=1000, ge=1000, le=9999)
    share: float = Field(default=0.5, gt=0, lt=1)
    name: str = Field(default="x", min_length=1, max_length=5)
    code: str = Field(default="ab", min_length=2)
    rows: list[int] = Field(default_factory=list, max_length=2)
    flag: bool = True
    kind: str = "a"

    @field_validator("kind")
    @classmethod
    def _known(cls, value: str) -> str:
        if value != "a":
            raise ValueError("'b' is not a kind Fortbridge books")
        return value


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"account": 12}, "must be at least 1000"),
        ({"account": 10000}, "must be at most 9999"),
        ({"account": "twelve"}, "must be a whole number"),
        ({"share": 0}, "must be more than 0"),
        ({"share": 1}, "must be less than 1"),
        ({"share": "half"}, "must be a number"),
        ({"name": ""}, "must not be empty"),
        ({"name": "toolong"}, "may have at most 5 characters"),
        ({"code": "a"}, "must have at least 2 characters"),
        ({"rows": [1, 2, 3]}, "may have at most 2 entries"),
        ({"flag": "maybe"}, "must be true or false"),
        ({"name": 5}, "must be text"),
        ({"colour": "red"}, "is not a field Fortbridge knows here (check its spelling)"),
        ({"kind": "b"}, "'b' is not a kind Fortbridge books"),
    ],
)
def test_a_pydantic_error_is_worded_for_a_merchant(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _Sample.model_validate(data)
    assert [plain(error) for error in caught.value.errors()] == [message]


def test_an_error_type_it_does_not_know_keeps_pydantics_own_message() -> None:
    class Dated(BaseModel):
        day: date

    with pytest.raises(ValidationError) as caught:
        Dated.model_validate({"day": "the first of May"})
    [error] = caught.value.errors()
    assert error["msg"].startswith("Input should be a valid date")
    assert plain(error) == error["msg"]


@pytest.mark.parametrize(
    ("settings", "where", "message"),
    [
        ({"summary_close_time": "25:00"}, "settings.summary_close_time", "HH:MM (00:00 to 23:59)"),
        ({"payouts": {"voucher_series": "A-B"}}, "settings.payouts.voucher_series", "letters"),
        ({"default_payment_mode": "a\tb"}, "settings.default_payment_mode", "control characters"),
        ({"trigger": "later"}, "settings.trigger", "must be one of 'create', 'paid' or"),
        ({"payment_modes": {"klarna": 5}}, "settings.payment_modes.klarna", "must be text"),
    ],
)
def test_the_settings_problems_name_the_field_and_say_what_it_needs(
    settings: dict[str, Any], where: str, message: str
) -> None:
    with pytest.raises(settings_api.SettingsProblems) as caught:
        settings_api.parse_patch(settings)
    assert [(p, m) for p, m in caught.value.problems if message in m] and all(
        p == where for p, _ in caught.value.problems
    ), caught.value.problems
    assert not any("should" in m or "pattern" in m for _, m in caught.value.problems)


def test_paths_name_fields_and_list_positions() -> None:
    assert path("mapping_rule", ("actions", "rows", 2, "account")) == (
        "mapping_rule.actions.rows[2].account"
    )
    assert path("settings", ()) == "settings"
