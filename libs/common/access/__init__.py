"""Who may call the admin API: Shopify session tokens, operator API tokens, and scopes per shop.

Every admin handler calls :func:`authorize` once; it returns the caller as a :class:`Principal`
whose ``shop`` is the only shop that caller may read or change.
"""

from libs.common.access.api_tokens import ApiTokenStore, IssuedToken
from libs.common.access.authorize import (
    MIGRATIONS,
    SCHEMA,
    authorize,
    authorize_for_shop,
    authorize_operator,
)
from libs.common.access.principal import SCOPES, Principal

__all__ = [
    "MIGRATIONS",
    "SCHEMA",
    "SCOPES",
    "ApiTokenStore",
    "IssuedToken",
    "Principal",
    "authorize",
    "authorize_for_shop",
    "authorize_operator",
]
