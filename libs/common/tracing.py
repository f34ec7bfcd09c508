"""OpenTelemetry tracing: one provider per process, W3C context carried in AMQP headers.

Spans follow the messaging semantic conventions: ``publish {destination}`` (PRODUCER) and
``process {destination}`` (CONSUMER), the consumer span a child of the producer's context. A
replayed message keeps its original ``traceparent`` and its new span links to it.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased

_provider: TracerProvider | None = None
_extra_processors: list[SpanProcessor] = []


def sampler(ratio: float) -> Sampler:
    """OTEL_TRACES_SAMPLER_RATIO: a new trace (a webhook) is kept with probability ``ratio``;
    every later span follows its parent's decision, so a trace is whole or absent."""
    return ParentBased(TraceIdRatioBased(min(1.0, max(0.0, ratio))))


def configure_tracing(
    service: str, *, otlp_endpoint: str | None = None, sampler_ratio: float = 1.0
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
        sampler=sampler(sampler_ratio),
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
