"""The one settings loader: every service reads its configuration from the environment here.

Names are plain environment variables (``AMQP_URL``, ``FORTNOX_API_URL``...), documented in the
README. Secrets (client secrets, the token encryption keys) come from the environment too, which
Kubernetes fills from Secrets.
"""

from __future__ import annotations

import ipaddress
from decimal import Decimal
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
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
    amqp_heartbeat_seconds: int = Field(default=30, ge=0)
    amqp_publish_timeout_seconds: float = Field(default=10.0, gt=0)
    amqp_delivery_limit: int = 10
    amqp_retry_delays: tuple[float, ...] = Field(
        default=(1, 5, 30, 120, 600),
        description="Delays (s) of the retry wait queues; attempt n waits the n-th delay.",
    )
    amqp_max_attempts: int = 6
    amqp_management_url: str = Field(
        default="",
        description="RabbitMQ's management API (http://host:15672), for the unacknowledged "
        "messages `quiet` reports; credentials from the URL, else AMQP_URL's. Empty: not used.",
    )
    database_url: str = "postgresql://postgres@127.0.0.1:5432/fortbridge"
    database_pool_max: int = 10

    # Ingest's group commit of webhooks (services/ingest/intake.py)
    ingest_writers: int = Field(
        default=3,
        ge=1,
        description="Batches of webhooks each ingest process writes at once; fewer writers make "
        "bigger batches (bench/README.md measured 3 against 6).",
    )
    ingest_write_wait_seconds: float = Field(
        default=0.002,
        ge=0,
        le=0.1,
        description="How long a writer of ingest's group commit that finds a lone webhook "
        "queued waits for more (0: written at once; two or more queued never wait).",
    )
    ingest_publishers: int = Field(
        default=2, ge=1, description="Groups of new events each ingest process publishes at once."
    )

    # Ingest's outbox relay: publishes stored events the fast path did not
    outbox_relay_interval_seconds: float = 1.0
    outbox_relay_age_seconds: float = 5.0

    # Ingest's reconciliation: orders Shopify never delivered by webhook (services/ingest/reconcile)
    reconcile_interval_seconds: float = Field(
        default=300.0,
        ge=0,
        description="How often each ingest replica reconciles the installed shops; 0 disables.",
    )
    reconcile_lookback_seconds: float = Field(
        default=900.0,
        ge=0,
        description="Each round re-reads orders updated this long before the checkpoint "
        "(Shopify's search index lags behind its writes).",
    )
    payouts_poll_enabled: bool = Field(
        default=True,
        description="Each reconciliation run also polls the shop's Shopify Payments payouts "
        "(Shopify has no payouts webhook) and stores each new one once (payouts/paid).",
    )
    summary_close_interval_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How often the mapper closes summary days whose close time passed "
        "(summary mode); 0 disables the loop.",
    )
    reconcile_settle_seconds: float = Field(
        default=120.0,
        ge=0,
        description="Orders updated more recently than this are left to the next round: their "
        "webhooks may still be on the way.",
    )

    # Ingest's inventory sync (services/ingest/inventory, docs/accounting.md Inventory)
    inventory_interval_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How often ingest handles each shop's stock changes (Shopify's "
        "inventory_levels/update as they arrive, Fortnox's changed articles); 0 disables.",
    )
    inventory_check_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="How often every Shopify level is compared with what Fortnox was given "
        "(Shopify as the source): the check that catches webhooks never delivered.",
    )

    # HTTP
    http_host: str = "0.0.0.0"
    http_port: int | None = Field(
        default=None, description="Port of the service's HTTP server; default is per service."
    )

    # Observability
    log_level: str = "INFO"
    otel_exporter_otlp_endpoint: str | None = None
    otel_traces_sampler_ratio: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="Share of new traces kept (beyond OTEL_TRACES_RECORDED_PER_SECOND, if set).",
    )
    otel_traces_recorded_per_second: float = Field(
        default=0.0,
        ge=0.0,
        description="Every new trace is kept while at most this many began in the last second "
        "of a process; the ratio applies beyond (0: the ratio applies to all).",
    )

    # Shopify
    shopify_api_key: str = "fortbridge-dev"
    shopify_api_secret: SecretStr = SecretStr("dev-shopify-secret")
    shopify_api_version: str = "2025-07"
    shopify_admin_url: str = Field(
        default="https://{shop}/admin/api/{version}/graphql.json",
        description="Admin GraphQL URL template; {shop} and {version} are filled in.",
    )
    # Shopify app install (OAuth) and its webhooks (services/ingest/install.py)
    shopify_scopes: str = Field(
        default="read_orders,write_orders,read_products,read_customers",
        description="Access scopes asked for at install, comma separated.",
    )
    shopify_app_url: str = Field(
        default="http://127.0.0.1:8080",
        description="Public base URL of ingest: OAuth redirect and webhook callbacks hang off it.",
    )
    shopify_state_ttl_seconds: float = Field(
        default=600.0, description="How long an install's signed OAuth state stays valid."
    )
    # The merchant's app (services/ingest/webapp): a development login outside Shopify admin
    app_dev_login: bool = Field(
        default=False,
        description="Local use only: the app offers a login that issues a session token for any "
        "shop. Refused unless SHOPIFY_APP_URL is on this machine (loopback).",
    )

    # Fortnox
    fortnox_api_url: str = "https://api.fortnox.se"
    fortnox_auth_url: str = "https://apps.fortnox.se"
    fortnox_client_id: str = "fortbridge-dev"
    fortnox_client_secret: SecretStr = SecretStr("dev-fortnox-secret")
    fortnox_rate_limit: int = Field(
        default=25, description="Requests Fortnox allows per window per tenant (25 per 5 s)."
    )
    fortnox_rate_window_seconds: float = 5.0
    fortnox_rate_margin_seconds: float = Field(
        default=0.3,
        description="Extra seconds the writer adds to the window for network jitter: any "
        "limit + 1 consecutive requests are sent at least window + margin apart.",
    )
    fortnox_timeout_seconds: float = 20.0
    fortnox_timezone: str = Field(
        default="Europe/Stockholm",
        description="The time zone Fortnox reads a lastmodified timestamp in (undocumented; "
        "a wrong one is noticed and answered with a full re-read, see docs/operations.md).",
    )
    fortnox_register_overlap_seconds: float = Field(
        default=120.0,
        description="How far back each read of Fortnox's changed customers starts before the "
        "previous read began (clock skew, lastmodified's whole minutes).",
    )
    # Fortnox connection lifecycle (OAuth) and the writer's scheduling
    fortnox_redirect_url: str = Field(
        default="http://127.0.0.1:8082/auth/fortnox/callback",
        description="The writer's /auth/fortnox/callback as registered with Fortnox.",
    )
    fortnox_state_signing_key: SecretStr = Field(
        default=SecretStr(""),
        description="HMAC key signing the OAuth state; empty: derived from the client secret.",
    )
    fortnox_state_ttl_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How long a connect attempt's OAuth state (and its nonce) stays valid.",
    )
    fortnox_connect_ticket_ttl_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How long the single-use launch ticket of POST /auth/fortnox/start.json "
        "stays valid.",
    )
    fortnox_connect_return_url: str = Field(
        default="",
        description="Where the browser goes after the Fortnox callback (with ?fortnox=connected "
        "or ?fortnox=error&reason=...); empty: {SHOPIFY_APP_URL}/app/.",
    )
    fortnox_refresh_margin_seconds: float = Field(
        default=120.0, description="Refresh an access token this long before it expires."
    )
    fortnox_defer_after_seconds: float = Field(
        default=0.5,
        description="A command whose tenant's next slot is further away is deferred, not held.",
    )
    preflight_interval_seconds: float = Field(
        default=86400.0,
        description="The pre-flight check of a shop's Fortnox runs again when its last run is "
        "older than this (daily); also at connect and on demand.",
    )
    preflight_sweep_seconds: float = Field(
        default=60.0, description="How often the writer looks for pre-flight checks due (0: off)."
    )
    fortnox_retry_base_seconds: float = 1.0
    fortnox_retry_max_seconds: float = 60.0
    fortnox_scheduler_interval_seconds: float = 0.05

    # Usage billing (docs/billing.md): trial credits, then a price per sync through Shopify
    billing_enabled: bool = Field(
        default=True,
        description="Charge per sync (trial credits, then Shopify usage records); false: no "
        "gate and no ledger (an app installed outside the App Store).",
    )
    billing_trial_credits: int = Field(
        default=15, ge=0, description="Free syncs per shop before a subscription is needed."
    )
    billing_price: Decimal = Field(
        default=Decimal("0.15"), gt=0, description="Price per sync, in BILLING_CURRENCY."
    )
    billing_currency: str = "USD"
    billing_capped_amount: Decimal = Field(
        default=Decimal("150.00"),
        gt=0,
        description="The capped amount per 30-day cycle a new subscription asks the merchant "
        "to approve (the merchant can raise it).",
    )
    billing_test_charges: bool = Field(
        default=False,
        description="Subscriptions are Shopify test charges (development stores: nothing billed).",
    )
    billing_retry_max_seconds: float = Field(
        default=300.0, gt=0, description="Longest wait between tries of a usage record."
    )
    billing_call_timeout_seconds: float = Field(
        default=15.0, gt=0, description="A Billing API call without an answer by then is retried."
    )
    billing_relay_interval_seconds: float = Field(
        default=1.0, gt=0, description="How often pending usage records are looked for."
    )
    billing_refresh_seconds: float = Field(
        default=60.0,
        gt=0,
        description="While work waits on a reached cap, how often the subscription is read "
        "from Shopify again (a new cycle, a raised cap).",
    )

    # Secrets at rest: comma separated Fernet keys, newest first (rotation: prepend a new key).
    token_encryption_keys: SecretStr = SecretStr("")

    # Admin API: the deployment's operator bearer token. Empty: no operator access at all,
    # unless ADMIN_API_ALLOW_LOOPBACK is on (local development only).
    admin_api_token: SecretStr = SecretStr("")
    admin_api_allow_loopback: bool = Field(
        default=False,
        description="Local development only: with ADMIN_API_TOKEN unset, a request without "
        "credentials from a loopback address (and no proxy headers) acts as the operator.",
    )

    # Replayer: a bulk retry re-queues failed jobs at this pace, all replicas together
    replay_rate: float = Field(
        default=5.0, gt=0, description="Failed jobs re-queued per second by a bulk retry."
    )

    # EU VAT numbers: checked with the EU's VIES before an order is booked as reverse charge
    # (services/mapper/vies.py, docs/operations.md "VIES").
    vies_url: str = Field(
        default="https://ec.europa.eu/taxation_customs/vies/rest-api",
        description="Base URL of VIES's REST API (POST {url}/check-vat-number). Empty: VIES is "
        "never asked; every number counts as 'VIES unavailable' (see VIES_UNAVAILABLE).",
    )
    vies_timeout_seconds: float = Field(
        default=5.0, gt=0, description="A VIES answer slower than this counts as unavailable."
    )
    vies_cache_days: float = Field(
        default=7.0,
        ge=0,
        description="A VIES answer (valid or not) is reused this long for the same shop and "
        "number; 0: every order asks VIES.",
    )
    vies_unavailable: Literal["wait_then_vat", "vat"] = Field(
        default="wait_then_vat",
        description="VIES unreachable: wait_then_vat retries the order for VIES_WAIT_SECONDS, "
        "then books it with the shop's VAT; vat books it with VAT at once. Never 0 % unchecked.",
    )
    vies_wait_seconds: float = Field(
        default=600.0,
        ge=0,
        description="How long wait_then_vat keeps retrying an order while VIES is unreachable "
        "(keep it below the sum of AMQP_RETRY_DELAYS, else the order ends as a failed job).",
    )

    # Mapping defaults (rules per shop come later; these are the shop defaults)
    default_guest_customer_name: str = "Shopify guest"

    @model_validator(mode="after")
    def _dev_login_only_locally(self) -> Settings:
        if self.app_dev_login and not is_local_url(self.shopify_app_url):
            raise ValueError(
                "APP_DEV_LOGIN=true is for local use only: it lets anyone sign in as any shop. "
                f"It is refused while SHOPIFY_APP_URL ({self.shopify_app_url}) is not a "
                "loopback address (127.0.0.1, ::1 or localhost)."
            )
        return self


def is_local_url(url: str) -> bool:
    """Whether a URL names this machine (loopback), where development aids may run."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
