"""OAuth token bookkeeping: authorization codes, access tokens, single-use refresh tokens.

- Access tokens are JWT-looking strings (``header.payload.signature``, base64url) whose payload
  carries ``tenantId``, ``clientId``, ``scope`` and ``exp`` like Fortnox's; the simulator does not
  trust the payload but looks the token up. They live ``access_token_ttl`` seconds.
- Refresh tokens are single use. Refreshing marks the presented token ``used`` and returns a new
  pair. Presenting a ``used`` token again counts as reuse (``refresh_reuse_count``), answers
  ``invalid_grant`` and revokes the whole connection: every access and refresh token of that
  client+tenant. This is how two parallel refreshes break a real Fortnox connection.
- Authorization codes are single use and live ``code_ttl`` seconds (10 minutes).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from simulators.fortnox._state import AccessToken, AuthorizationCode, RefreshToken
from simulators.fortnox.errors import OAuthError


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class TokenPair:
    access: AccessToken
    refresh: RefreshToken | None
    expires_in: int

    def response(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access.token,
            "scope": " ".join(sorted(self.access.scopes)),
            "expires_in": self.expires_in,
            "token_type": "bearer",
        }
        if self.refresh is not None:
            body["refresh_token"] = self.refresh.token
        return body


class TokenStore:
    def __init__(
        self,
        *,
        access_token_ttl: float,
        refresh_token_ttl: float,
        code_ttl: float,
        clock: Callable[[], float],
    ) -> None:
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.code_ttl = code_ttl
        self.clock = clock
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.refresh_count = 0
        self.refresh_reuse_count = 0

    # --- issuing ---------------------------------------------------------------------------
    def _jwt(self, client_id: str, tenant_id: str, scopes: frozenset[str]) -> str:
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": "fortnox-sim"}
        payload = {
            "iss": "https://apps.fortnox.se/oauth-v1",
            "sub": f"sim-user-{tenant_id}",
            "tenantId": int(tenant_id),
            "clientId": client_id,
            "scope": sorted(scopes),
            "iat": now,
            "exp": now + int(self.access_token_ttl),
            "jti": secrets.token_hex(8),
        }
        parts = (
            _b64(json.dumps(header, separators=(",", ":")).encode()),
            _b64(json.dumps(payload, separators=(",", ":")).encode()),
            _b64(secrets.token_bytes(64)),
        )
        return ".".join(parts)

    def issue(
        self,
        client_id: str,
        tenant_id: str,
        scopes: Iterable[str],
        *,
        with_refresh: bool = True,
    ) -> TokenPair:
        scope_set = frozenset(scopes)
        now = self.clock()
        access = AccessToken(
            token=self._jwt(client_id, tenant_id, scope_set),
            client_id=client_id,
            tenant_id=tenant_id,
            scopes=scope_set,
            expires_at=now + self.access_token_ttl,
        )
        self.access[access.token] = access
        refresh: RefreshToken | None = None
        if with_refresh:
            refresh = RefreshToken(
                token=secrets.token_urlsafe(30),
                client_id=client_id,
                tenant_id=tenant_id,
                scopes=scope_set,
                expires_at=now + self.refresh_token_ttl,
            )
            self.refresh[refresh.token] = refresh
        return TokenPair(access, refresh, int(self.access_token_ttl))

    def new_code(
        self, client_id: str, tenant_id: str, redirect_uri: str, scopes: Iterable[str]
    ) -> str:
        code = AuthorizationCode(
            code=secrets.token_urlsafe(24),
            client_id=client_id,
            tenant_id=tenant_id,
            redirect_uri=redirect_uri,
            scopes=frozenset(scopes),
            expires_at=self.clock() + self.code_ttl,
        )
        self.codes[code.code] = code
        return code.code

    # --- grants ----------------------------------------------------------------------------
    def redeem_code(self, client_id: str, code: str, redirect_uri: str) -> TokenPair:
        record = self.codes.get(code)
        if record is None or record.client_id != client_id:
            raise OAuthError(400, "invalid_grant", "Invalid authorization code")
        if record.used or record.expires_at <= self.clock():
            raise OAuthError(400, "invalid_grant", "Authorization code expired or already used")
        if redirect_uri != record.redirect_uri:
            raise OAuthError(400, "invalid_grant", "Redirect URI mismatch")
        record.used = True
        return self.issue(client_id, record.tenant_id, record.scopes)

    def refresh_grant(self, client_id: str, token: str) -> TokenPair:
        record = self.refresh.get(token)
        if record is None or record.client_id != client_id:
            raise OAuthError(400, "invalid_grant", "Invalid refresh token")
        if record.state == "used":
            self.refresh_reuse_count += 1
            self.revoke_connection(record.client_id, record.tenant_id)
            raise OAuthError(400, "invalid_grant", "Invalid refresh token")
        if record.state == "revoked" or record.expires_at <= self.clock():
            raise OAuthError(400, "invalid_grant", "Invalid refresh token")
        record.state = "used"
        self.refresh_count += 1
        return self.issue(client_id, record.tenant_id, record.scopes)

    # --- lookups and forced states -----------------------------------------------------------
    def lookup_access(self, token: str) -> AccessToken | None:
        record = self.access.get(token)
        if record is None or record.revoked or record.expires_at <= self.clock():
            return None
        return record

    def tenant_of_refresh(self, token: str) -> str | None:
        record = self.refresh.get(token)
        return record.tenant_id if record else None

    def revoke_connection(self, client_id: str | None, tenant_id: str | None) -> int:
        """Revoke all tokens matching client and tenant (``None`` matches any)."""
        count = 0
        for access in self.access.values():
            if _matches(access.client_id, access.tenant_id, client_id, tenant_id):
                if not access.revoked:
                    count += 1
                access.revoked = True
        for refresh in self.refresh.values():
            if _matches(refresh.client_id, refresh.tenant_id, client_id, tenant_id):
                if refresh.state == "active":
                    count += 1
                refresh.state = "revoked"
        return count

    def revoke_refresh(self, client_id: str, token: str) -> bool:
        record = self.refresh.get(token)
        if record is None or record.client_id != client_id:
            return False
        self.revoke_connection(record.client_id, record.tenant_id)
        return True

    def expire_access(self, tenant_id: str | None = None) -> int:
        now = self.clock()
        count = 0
        for access in self.access.values():
            if (tenant_id is None or access.tenant_id == tenant_id) and access.expires_at > now:
                access.expires_at = now
                count += 1
        return count


def _matches(c: str, t: str, client_id: str | None, tenant_id: str | None) -> bool:
    return (client_id is None or c == client_id) and (tenant_id is None or t == tenant_id)
