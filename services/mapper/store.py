"""The mapper's tables around the pure planner: shop settings and per-order state."""

from __future__ import annotations

import json
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


async def save_shop_settings(conn: Any, shop: str, settings: dict[str, Any]) -> None:
    await conn.execute(
        """
        INSERT INTO mapper.shop_settings (shop, settings) VALUES ($1, $2::jsonb)
        ON CONFLICT (shop) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()
        """,
        shop,
        json.dumps(settings, default=str),
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
