"""OpenTelemetry spans for the invoke path: one span per request, a child per step (auth, validate,
route, model, fallback, record).

Off unless `tracing.otlp_endpoint` is set: then every helper returns one shared no-op context manager,
so the hot path pays a method call per step and nothing else. On, the SDK's batch processor exports
over OTLP/HTTP from a background thread.

Attributes carry ids, names, codes and numbers only: never inputs, outputs, error details (they can
quote the input) or who the caller is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shipyard import __version__
from shipyard.core.config import TracingSettings
from shipyard.core.errors import ShipyardError

_PROPAGATOR = TraceContextTextMapPropagator()
AttributeValue = str | int | float | bool


class _Noop:
    """What every helper returns while tracing is off: `with` costs two empty calls."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


NOOP = _Noop()


class _HeaderGetter(Getter[Mapping[str, str]]):
    def get(self, carrier: Mapping[str, str], key: str) -> list[str] | None:
        value = carrier.get(key)
        return [value] if value is not None else None

    def keys(self, carrier: Mapping[str, str]) -> list[str]:
        return list(carrier.keys())


_GETTER = _HeaderGetter()


class TracingNotInstalled(RuntimeError):
    """An OTLP endpoint is configured but the exporter package is missing."""


def require_exporter(settings: TracingSettings) -> Callable[..., SpanExporter]:
    """The OTLP/HTTP exporter class; a clear error when an endpoint is set and the extra is missing."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        raise TracingNotInstalled(
            f"tracing.otlp_endpoint is set to {settings.otlp_endpoint} but the OTLP exporter is not "
            f"installed ({exc.name} is missing): pip install 'shipyard[otel]', "
            "or unset SHIPYARD_TRACING__OTLP_ENDPOINT"
        ) from exc
    return OTLPSpanExporter


def _error_code(exc: BaseException) -> str:
    return exc.code if isinstance(exc, ShipyardError) else type(exc).__name__


class Tracing:
    """The process's tracer (one per app context); `enabled` is False when nothing is exported."""

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("shipyard", __version__) if provider is not None else None

    @property
    def enabled(self) -> bool:
        return self.tracer is not None

    @classmethod
    def from_settings(cls, settings: TracingSettings) -> Tracing:
        """Export over OTLP/HTTP when an endpoint is set; a no-op tracer otherwise."""
        if not settings.enabled:
            return cls()
        exporter_class = require_exporter(settings)
        exporter = exporter_class(
            endpoint=settings.otlp_endpoint,
            headers={k: v.get_secret_value() for k, v in settings.headers.items()},
            timeout=settings.timeout_s,
        )
        return cls.with_processor(BatchSpanProcessor(exporter), settings)

    @classmethod
    def with_processor(cls, processor: SpanProcessor, settings: TracingSettings | None = None) -> Tracing:
        """A tracer whose spans go to `processor` (tests pass a SimpleSpanProcessor(InMemorySpanExporter))."""
        settings = settings or TracingSettings()
        provider = TracerProvider(
            resource=Resource.create({"service.name": settings.service_name, "service.version": __version__}),
            sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
        )
        provider.add_span_processor(processor)
        return cls(provider)

    @classmethod
    def with_exporter(cls, exporter: SpanExporter, settings: TracingSettings | None = None) -> Tracing:
        """A tracer that hands each finished span to `exporter` at once."""
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        return cls.with_processor(SimpleSpanProcessor(exporter), settings)

    def shutdown(self) -> None:
        """Export what is buffered and stop the exporter thread."""
        if self.provider is not None:
            self.provider.shutdown()

    # -- the helpers the invoke path calls -------------------------------------------------------

    def request(
        self, name: str, request_id: str, service: str, headers: Mapping[str, str]
    ) -> AbstractContextManager[Any]:
        """The parent span of one call; continues the caller's trace when it sent a traceparent."""
        if self.tracer is None:
            return NOOP
        return self._request(self.tracer, name, request_id, service, headers)

    @contextmanager
    def _request(
        self, tracer: trace.Tracer, name: str, request_id: str, service: str, headers: Mapping[str, str]
    ) -> Iterator[Span]:
        parent = _PROPAGATOR.extract(headers, getter=_GETTER)
        with tracer.start_as_current_span(
            name,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "shipyard.request_id": request_id,
                "shipyard.service": service,
                "http.request.method": "POST",
                "http.route": name.partition(" ")[2] or name,
            },
            record_exception=False,  # exception messages may quote the input
            set_status_on_exception=False,
        ) as span:
            try:
                yield span
            except ShipyardError as exc:
                from shipyard.web.problems import status_for

                status = status_for(exc)
                span.set_attribute("http.response.status_code", status)
                span.set_attribute("shipyard.error_code", exc.code)
                if status >= 500:  # a caller's mistake (4xx) is not the server's error
                    span.set_status(Status(StatusCode.ERROR, exc.code))
                raise
            except BaseException as exc:
                span.set_attribute("http.response.status_code", 500)
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            else:
                span.set_attribute("http.response.status_code", 200)

    def step(self, name: str, **attributes: AttributeValue | None) -> AbstractContextManager[Any]:
        """A child span of the current call's span; a no-op outside one (batch jobs, eval runs)."""
        if self.tracer is None or not trace.get_current_span().is_recording():
            return NOOP
        return self._step(self.tracer, name, attributes)

    @contextmanager
    def _step(
        self, tracer: trace.Tracer, name: str, attributes: dict[str, AttributeValue | None]
    ) -> Iterator[Span]:
        with tracer.start_as_current_span(
            f"shipyard.{name}",
            attributes={f"shipyard.{k}": v for k, v in attributes.items() if v is not None},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield span
            except BaseException as exc:
                code = _error_code(exc)
                span.set_attribute("shipyard.error_code", code)
                span.set_status(Status(StatusCode.ERROR, code))
                raise

    def note(self, **attributes: AttributeValue | None) -> None:
        """Set `shipyard.*` attributes on the current span (outcome, version, fallback step)."""
        if self.tracer is None:
            return
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attributes({f"shipyard.{k}": v for k, v in attributes.items() if v is not None})

    def event(self, name: str, **attributes: AttributeValue | None) -> None:
        """An event on the current span, e.g. a fallback step that failed."""
        if self.tracer is None:
            return
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event(name, {f"shipyard.{k}": v for k, v in attributes.items() if v is not None})
