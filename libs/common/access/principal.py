"""The caller of an admin endpoint and the scopes it holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SCOPES: frozenset[str] = frozenset(
    {
        "manage_apps",
        "read_orders",
        "write_orders",
        "manage_timeline",
        "read_products",
        "write_products",
        "read_customers",
        "write_customers",
        "read_integrations",
        "write_integrations",
    }
)

Kind = Literal["session", "api_token", "operator"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    ``shop`` is None only for the deployment's operator token (ADMIN_API_TOKEN), which may act
    for any shop. ``manage_apps`` implies every scope; ``write_x`` implies ``read_x``.
    """

    kind: Kind
    name: str
    shop: str | None
    scopes: frozenset[str]

    def holds(self, scope: str) -> bool:
        if "manage_apps" in self.scopes or scope in self.scopes:
            return True
        return scope.startswith("read_") and f"write_{scope[5:]}" in self.scopes

    def holds_any(self, scopes: tuple[str, ...]) -> bool:
        return not scopes or any(self.holds(scope) for scope in scopes)

    def may_act_for(self, shop: str) -> bool:
        return self.shop is None or self.shop == shop


def parse_scopes(text: str) -> frozenset[str]:
    """``"read_orders, write_orders"`` -> the set; unknown names raise ValueError."""
    scopes = frozenset(part.strip() for part in text.replace(" ", ",").split(",") if part.strip())
    unknown = sorted(scopes - SCOPES)
    if unknown:
        known = ", ".join(sorted(SCOPES))
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}; known: {known}")
    if not scopes:
        raise ValueError("at least one scope is required")
    return scopes
