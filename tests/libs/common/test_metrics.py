"""A kept metric child counts into the series its label values name, as labels() would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from libs.common.metrics import child


def test_a_kept_child_is_the_series_of_its_label_values() -> None:
    registry = CollectorRegistry()
    counter = Counter("t_webhooks_total", "test", ["topic", "outcome"], registry=registry)

    first = child(counter, "orders/create", "stored")
    assert child(counter, "orders/create", "stored") is first
    first.inc()
    child(counter, "orders/create", "stored").inc(2)
    child(counter, "orders/create", "duplicate").inc()

    def value(topic: str, outcome: str) -> float | None:
        return registry.get_sample_value("t_webhooks_total", {"topic": topic, "outcome": outcome})

    assert value("orders/create", "stored") == 3
    assert value("orders/create", "duplicate") == 1
    # The same values through labels() name the same series.
    counter.labels(topic="orders/create", outcome="stored").inc()
    assert value("orders/create", "stored") == 4


def test_children_of_two_metrics_with_the_same_values_are_apart() -> None:
    registry = CollectorRegistry()
    one = Histogram("t_one_seconds", "test", ["route"], registry=registry)
    two = Histogram("t_two_seconds", "test", ["route"], registry=registry)
    child(one, "/webhooks/shopify").observe(0.01)
    child(two, "/webhooks/shopify")
    assert registry.get_sample_value("t_one_seconds_count", {"route": "/webhooks/shopify"}) == 1
    assert registry.get_sample_value("t_two_seconds_count", {"route": "/webhooks/shopify"}) == 0
    assert child(two, "/webhooks/shopify") is not child(one, "/webhooks/shopify")
