"""The one settings loader: every service reads its configuration from the environment here.

Names are plain environment variables (``AMQP_URL``, ``FORTNOX_API_URL``...), documented in the
README. Secrets (client secrets, the token encryption keys) come from the environment too, which
Kubernetes fills from Secrets.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration shared by every Fortbridge service."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # Infrastructure
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    amqp_namespace: str = Field(
        default="fortbridge",
        description="Prefix of every exchange and queue name; lets several stacks share a broker.",
    )
    amqp_prefetch: int = 32
    amqp_delivery_limit: int = 10
    amqp_retry_delays: tuple[float, ...] = Field(
        default=(1, 5, 30, 120, 600),
        description="Delays (s) of the retry wait queues; attempt n waits the n-th delay.",
    )
    amqp_max_attempts: int = 6
    database_url: str = "postgresql://postgres@127.0.0.1:5432/fortbridge"
    database_pool_max: int = 10

    # Ingest's outbox relay: publishes stored events the fast path did not
    outbox_relay_interval_seconds: float = 1.0
    outbox_relay_age_seconds: float = 5.0

    # HTTP
    http_host: str = "0.0.0.0"
    http_port: int | None = Field(
        default=None, description="Port of the service's HTTP server; default is per service."
    )

    # Observability
    log_level: str = "INFO"
    otel_exporter_otlp_endpoint: str | None = None
    otel_traces_sampler_ratio: float = 1.0

    # Shopify
    shopify_api_key: str = "fortbridge-dev"
    shopify_api_secret: SecretStr = SecretStr("dev-shopify-secret")
    shopify_api_version: str = "2025-07"
    shopify_admin_url: str = Field(
        default="https://{shop}/admin/api/{version}/graphql.json",
        description="Admin GraphQL URL template; {shop} and {version} are filled in.",
    )

    # Fortnox
    fortnox_api_url: str = "https://api.fortnox.se"
    fortnox_auth_url: str = "https://apps.fortnox.se"
    fortnox_client_id: str = "fortbridge-dev"
    fortnox_client_secret: SecretStr = SecretStr("dev-fortnox-secret")
    fortnox_rate_limit: int = Field(
        default=24,
        description="Requests allowed per window per tenant (Fortnox allows 25; one is margin).",
    )
    fortnox_rate_window_seconds: float = 5.0
    fortnox_timeout_seconds: float = 20.0

    # Secrets at rest: comma separated Fernet keys, newest first (rotation: prepend a new key).
    token_encryption_keys: SecretStr = SecretStr("")

    # Admin API: operator bearer token (empty = open, for local runs only)
    admin_api_token: SecretStr = SecretStr("")

    # Mapping defaults (rules per shop come later; these are the shop defaults)
    default_guest_customer_name: str = "Shopify guest"
    default_vat_rate: Decimal = Decimal("25")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
