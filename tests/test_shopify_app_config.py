"""The shopify.app.toml Fortbridge ships agrees with the code: the app's page, the scopes and
API version it asks for, and the paths Shopify calls back on."""

from __future__ import annotations

import tomllib
from urllib.parse import urlsplit

from libs.common.settings import Settings
from services.ingest.install import CALLBACK_PATH, WEBHOOK_PATH
from services.ingest.shopify_oauth import WEBHOOK_TOPICS
from tests.test_deploy_files import ROOT, public_routes

CONFIG = ROOT / "shopify.app.toml"


def test_the_app_configuration_matches_the_code() -> None:
    config = tomllib.loads(CONFIG.read_text())
    defaults = Settings()
    assert config["client_id"] == defaults.shopify_api_key
    assert config["embedded"] is True
    app_url = urlsplit(config["application_url"])
    assert app_url.scheme == "https" and app_url.path == "/app/"
    assert "/app/" in public_routes("ingest")  # ingest serves the page Shopify opens
    assert config["access_scopes"]["scopes"] == defaults.shopify_scopes
    assert config["webhooks"]["api_version"] == defaults.shopify_api_version
    [redirect] = config["auth"]["redirect_urls"]
    assert urlsplit(redirect).path == CALLBACK_PATH
    [privacy] = config["webhooks"]["subscriptions"]
    assert sorted(privacy["compliance_topics"]) == [
        "customers/data_request",
        "customers/redact",
        "shop/redact",
    ]
    assert urlsplit(privacy["uri"]).path == WEBHOOK_PATH
    # Topics subscribed per shop through the API are not declared again (twice the deliveries).
    assert "topics" not in privacy and not set(privacy["compliance_topics"]) & set(WEBHOOK_TOPICS)
    hosts = {
        urlsplit(url).hostname for url in (config["application_url"], redirect, privacy["uri"])
    }
    assert len(hosts) == 1  # one app URL (SHOPIFY_APP_URL) for all of it
