"""The mapper's tables around the pure planner: shop settings and per-order state."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from libs.common.errors import PermanentError
from services.mapper.accounting import OrderState, ShopSettings


async def load_shop_settings(conn: Any, shop: str, defaults: dict[str, Any]) -> ShopSettings:
    """The shop's settings: stored overrides on top of ``defaults`` (the one place they load)."""
    raw = await conn.fetchval(
        "SELECT settings::text FROM mapper.shop_settings WHERE shop = $1", shop
    )
    stored = json.loads(raw) if raw else {}
    try:
        return ShopSettings.model_validate({**defaults, **stored})
    except ValidationError as exc:
        raise PermanentError(
            f"the shop's stored accounting settings are invalid: {exc.errors()[0]['msg']} "
            f"at {'.'.join(str(p) for p in exc.errors()[0]['loc'])}",
            code="bad_shop_settings",
        ) from exc


@dataclass(frozen=True)
class StoredSettings:
    """The shop's choices (overrides of the defaults), version (0: never saved), who, when."""

    overrides: dict[str, Any]
    version: int
    actor: str | None = None
    updated_at: datetime | None = None


class SettingsVersionConflict(Exception):
    """The settings changed since the caller read them."""

    def __init__(self, current: StoredSettings) -> None:
        self.current = current
        super().__init__(f"the settings are at version {current.version}")


async def stored_shop_settings(conn: Any, shop: str, *, lock: bool = False) -> StoredSettings:
    row = await conn.fetchrow(
        "SELECT settings::text, version, actor, updated_at FROM mapper.shop_settings"
        " WHERE shop = $1" + (" FOR UPDATE" if lock else ""),
        shop,
    )
    if row is None:
        return StoredSettings({}, 0)
    return StoredSettings(
        dict(json.loads(row["settings"])), row["version"], row["actor"], row["updated_at"]
    )


async def change_shop_settings(
    conn: Any,
    shop: str,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    description: str,
    actor: str | None,
    expected_version: int | None = None,
) -> StoredSettings:
    """Store ``change(current overrides)`` as the shop's next settings version.

    Under a per-shop lock, like the rules: versions are dense and never rewritten, and every one
    is kept in ``shop_settings_versions``. With ``expected_version`` (the version the caller
    read) a concurrent change raises :class:`SettingsVersionConflict` and nothing is written;
    ``change`` may raise too, with the same effect.
    """
    async with conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"mapper-settings:{shop}"
        )
        current = await stored_shop_settings(conn, shop, lock=True)
        if expected_version is not None and expected_version != current.version:
            raise SettingsVersionConflict(current)
        overrides = change(dict(current.overrides))
        version = current.version + 1
        text = json.dumps(overrides, default=str)
        row = await conn.fetchrow(
            """
            INSERT INTO mapper.shop_settings (shop, settings, version, actor)
            VALUES ($1, $2::jsonb, $3, $4)
            ON CONFLICT (shop) DO UPDATE SET settings = EXCLUDED.settings,
                version = EXCLUDED.version, actor = EXCLUDED.actor, updated_at = now()
            RETURNING updated_at
            """,
            shop,
            text,
            version,
            actor,
        )
        await conn.execute(
            "INSERT INTO mapper.shop_settings_versions (shop, version, settings, change, actor)"
            " VALUES ($1, $2, $3::jsonb, $4, $5)",
            shop,
            version,
            text,
            description,
            actor,
        )
    return StoredSettings(overrides, version, actor, row["updated_at"])


async def save_shop_settings(
    conn: Any, shop: str, settings: dict[str, Any], *, actor: str | None = None
) -> StoredSettings:
    """Replace the shop's stored overrides (a new version; scripts and tests)."""
    return await change_shop_settings(
        conn, shop, lambda _current: dict(settings), description="replace", actor=actor
    )


async def load_state(conn: Any, shop: str, order_id: str) -> OrderState | None:
    raw = await conn.fetchval(
        "SELECT state::text FROM mapper.order_state WHERE shop = $1 AND order_id = $2",
        shop,
        order_id,
    )
    return None if raw is None else OrderState.model_validate_json(raw)


async def save_state(conn: Any, shop: str, state: OrderState) -> None:
    await conn.execute(
        """
        INSERT INTO mapper.order_state
            (shop, order_id, state, last_updated_at, full_credit_used)
        VALUES ($1, $2, $3::jsonb, $4, $5)
        ON CONFLICT (shop, order_id) DO UPDATE SET
            state = EXCLUDED.state, last_updated_at = EXCLUDED.last_updated_at,
            full_credit_used = EXCLUDED.full_credit_used, updated_at = now()
        """,
        shop,
        state.order_id,
        state.model_dump_json(),
        state.last_updated_at,
        state.full_credit_used,
    )
