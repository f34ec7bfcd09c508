"""OpenTelemetry tracing: one provider per process, W3C context carried in AMQP headers.

Spans follow the messaging semantic conventions: ``publish {destination}`` (PRODUCER) and
``process {destination}`` (CONSUMER), the consumer span a child of the producer's context. A
replayed message keeps its original ``traceparent`` and its new span links to it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.util.types import Attributes

_provider: TracerProvider | None = None
_extra_processors: list[SpanProcessor] = []


class BurstCapped(Sampler):
    """Keeps every new trace while at most ``per_second`` began in the last second of this
    process, and beyond that a ``ratio`` share of them (a token bucket of one second's traces,
    then :class:`TraceIdRatioBased`): what X-Ray's reservoir and Jaeger's rate limiting sampler
    do. A shop's ordinary traffic is traced whole; a burst (a sale, an import) is traced at the
    ratio, so recording spans takes no more of ingest's CPU than ``per_second`` of them plus the
    ratio's share (recording costs about a sixth of a webhook's CPU in ingest, bench/README.md).
    """

    def __init__(
        self, per_second: float, ratio: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._per_second = per_second
        self._ratio = TraceIdRatioBased(ratio)
        self._clock = clock
        self._tokens = per_second
        self._at = clock()
        self._lock = threading.Lock()

    def should_sample(
        self,
        parent_context: otel_context.Context | None,
        trace_id: int,
        name: str,
        kind: trace.SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[trace.Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if self._take():
            return ALWAYS_ON.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )
        return self._ratio.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def _take(self) -> bool:
        with self._lock:
            now = self._clock()
            elapsed, self._at = now - self._at, now
            self._tokens = min(self._per_second, self._tokens + elapsed * self._per_second)
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True

    def get_description(self) -> str:
        return f"BurstCapped{{{self._per_second:g}/s, then {self._ratio.get_description()}}}"


def sampler(ratio: float, per_second: float = 0.0) -> Sampler:
    """How new traces (webhooks, admin requests, pollers' rounds) are kept; every later span
    follows its parent's decision, so a trace is whole or absent.

    OTEL_TRACES_SAMPLER_RATIO: the share kept. OTEL_TRACES_RECORDED_PER_SECOND (0: off): every
    new trace is kept while at most that many began in the last second, the ratio applies beyond
    (:class:`BurstCapped`). A dropped trace still has its id: messages carry it (not sampled),
    logs and failed jobs name it."""
    ratio = min(1.0, max(0.0, ratio))
    if per_second > 0 and ratio < 1.0:
        return ParentBased(BurstCapped(per_second, ratio))
    return ParentBased(TraceIdRatioBased(ratio))


def configure_tracing(
    service: str,
    *,
    otlp_endpoint: str | None = None,
    sampler_ratio: float = 1.0,
    recorded_per_second: float = 0.0,
) -> TracerProvider:
    """Install the process's tracer provider (once); export over OTLP/HTTP when configured.

    In a single process running several services (``fortbridge run all``, tests) the first call
    wins; spans still carry their service in ``fortbridge.service``.
    """
    global _provider
    if _provider is not None:
        return _provider
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "service.namespace": "fortbridge"}),
        sampler=sampler(sampler_ratio, recorded_per_second),
    )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    for processor in _extra_processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


def add_span_processor(processor: SpanProcessor) -> None:
    """Attach a processor (tests attach an in-memory exporter) now or when tracing starts."""
    _extra_processors.append(processor)
    if _provider is not None:
        _provider.add_span_processor(processor)


def get_tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def inject(headers: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Write the current trace context (traceparent, tracestate) into message headers."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    headers.update(carrier)
    return headers


def extract(headers: Mapping[str, Any] | None) -> otel_context.Context:
    """The trace context carried by message headers (empty context if none)."""
    carrier = {
        key: value.decode() if isinstance(value, bytes) else str(value)
        for key, value in (headers or {}).items()
        if key in ("traceparent", "tracestate")
    }
    return propagate.extract(carrier)


def links_to(traceparent: object) -> list[trace.Link]:
    """A link to the span named by a ``traceparent`` (a replay links to its original)."""
    if not traceparent:
        return []
    value = traceparent.decode() if isinstance(traceparent, bytes) else str(traceparent)
    context = trace.get_current_span(extract({"traceparent": value})).get_span_context()
    return [trace.Link(context)] if context.is_valid else []


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


async def shutdown_tracing() -> None:
    if _provider is not None:
        _provider.force_flush(timeout_millis=5000)
