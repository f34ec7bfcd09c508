"""The Grafana dashboard and the Prometheus alert rules use only metrics the code defines
(libs/common/metrics.py), with labels those metrics have; every alert has a runbook section in
docs/operations.md."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from libs.common import metrics
from tests.test_deploy_files import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "fortbridge.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
OPERATIONS = ROOT / "docs" / "operations.md"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
# Series Prometheus makes itself, and labels every sample may carry.
BUILTIN = {"up"}
GENERIC_LABELS = {"le", "job", "instance", "namespace", "pod"}


def defined() -> dict[str, set[str]]:
    """Sample name -> label names, for every metric in libs/common/metrics.py."""
    samples: dict[str, set[str]] = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            name = value._name  # the name without _total, as prometheus_client keeps it
            for suffix in SUFFIXES[value._type]:
                samples[name + suffix] = set(value._labelnames)
    return samples


def metric_refs(expr: str) -> list[tuple[str, set[str]]]:
    """(metric, label names in its selector) for every series an expression reads."""
    found = []
    for match in re.finditer(r"\b([a-z_:][a-z0-9_:]*)\s*(\{[^}]*\})?", expr):
        name, selector = match.group(1), match.group(2) or ""
        if name.startswith("fortbridge_") or name in BUILTIN:
            labels = set(re.findall(r"([a-z_]+)\s*(?:=~|!~|!=|=)", selector))
            found.append((name, labels))
    return found


def grouping_labels(expr: str) -> set[str]:
    found = set()
    for group in re.findall(r"\b(?:by|on|without)\s*\(([^)]*)\)", expr):
        found |= {label.strip() for label in group.split(",") if label.strip()}
    return found


def check_expr(expr: str, where: str) -> None:
    known = defined()
    refs = metric_refs(expr)
    assert refs, f"{where}: no Fortbridge metric in {expr!r}"
    assert expr.count("(") == expr.count(")"), f"{where}: unbalanced parentheses"
    labels_in_use: set[str] = set()
    for name, labels in refs:
        if name in BUILTIN:
            continue
        assert name in known, f"{where}: {name} is not defined in libs/common/metrics.py"
        assert labels <= known[name] | GENERIC_LABELS, f"{where}: {name} has no {labels}"
        labels_in_use |= known[name]
    extra = grouping_labels(expr) - labels_in_use - GENERIC_LABELS
    assert not extra, f"{where}: grouping by labels no metric has: {extra}"


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_dashboard_answers_the_first_questions() -> None:
    board = dashboard()
    assert board["uid"] == "fortbridge" and board["title"] == "Fortbridge"
    rows = [panel["title"] for panel in board["panels"] if panel["type"] == "row"]
    assert rows == [
        "Is anything failing?",
        "How far behind are we?",
        "Is Fortnox throttling us?",
        "Which shops are stuck?",
    ]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))


def test_every_dashboard_query_names_defined_metrics() -> None:
    panels = [panel for panel in dashboard()["panels"] if panel["type"] != "row"]
    assert len(panels) >= 12
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            check_expr(target["expr"], f"panel {panel['title']!r}")


def test_the_dashboard_covers_what_the_issue_asks() -> None:
    used = {
        name
        for p in dashboard()["panels"]
        for t in p.get("targets", [])
        for name, _ in metric_refs(t["expr"])
    }
    wanted = {
        "fortbridge_webhooks_received_total",
        "fortbridge_webhooks_rejected_total",
        "fortbridge_messages_processed_total",
        "fortbridge_messages_failed_total",
        "fortbridge_processing_seconds_bucket",
        "fortbridge_end_to_end_seconds_bucket",
        "fortbridge_queue_messages",
        "fortbridge_queue_consumers",
        "fortbridge_fortnox_requests_total",
        "fortbridge_fortnox_rate_limit_wait_seconds_bucket",
        "fortbridge_fortnox_429_total",
        "fortbridge_fortnox_token_refreshes_total",
        "fortbridge_fortnox_connections_needing_reconnection",
        "fortbridge_failed_jobs_open",
        "fortbridge_replays_total",
        "fortbridge_shop_failures_total",
        "fortbridge_shopify_requests_total",
        # what the alerts cover had no panel: the outbox backlog and missed webhooks
        "fortbridge_ingest_outbox_unpublished",
        "fortbridge_reconcile_recovered_total",
        "fortbridge_reconcile_runs_total",
        # the inventory sync, each direction
        "fortbridge_inventory_levels_read_total",
        "fortbridge_inventory_levels_pushed_total",
        "fortbridge_inventory_levels_failed_total",
    }
    assert wanted <= used, wanted - used


def test_every_metric_an_alert_reads_has_a_panel() -> None:
    """An alert that fires points at something the dashboard shows over time."""
    shown = {
        name
        for p in dashboard()["panels"]
        for t in p.get("targets", [])
        for name, _ in metric_refs(t["expr"])
    }
    alerted = {name for rule in alert_rules() for name, _ in metric_refs(rule["expr"])}
    assert alerted - shown - BUILTIN == set()


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_rule_is_well_formed_with_a_runbook(rule: dict[str, Any]) -> None:
    assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
    assert re.fullmatch(r"Fortbridge[A-Z][A-Za-z0-9]+", rule["alert"])
    check_expr(rule["expr"], rule["alert"])
    if "for" in rule:
        assert re.fullmatch(r"\d+[smh]", rule["for"])
    assert rule["labels"]["severity"] in ("warning", "critical")
    assert rule["annotations"]["summary"]
    anchor = rule["annotations"]["runbook_url"].split("#")[1]
    assert anchor == rule["alert"].lower()
    headings = re.findall(r"^#+ +`?([A-Za-z0-9]+)`?\s*$", OPERATIONS.read_text(), re.M)
    assert rule["alert"] in headings, f"docs/operations.md has no section for {rule['alert']}"


def test_alerts_cover_what_the_issue_asks() -> None:
    exprs = " ".join(rule["expr"] for rule in alert_rules())
    for metric in (
        "fortbridge_failed_jobs_open",
        "fortbridge_message_wait_seconds_bucket",
        "fortbridge_queue_messages",
        "fortbridge_fortnox_connections_needing_reconnection",
        "fortbridge_fortnox_429_total",
    ):
        assert metric in exprs, metric
