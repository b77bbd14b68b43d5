"""A real `shipyard serve` exports its spans over OTLP/HTTP protobuf to a real local collector."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.faults.harness.server import Instance
from tests.servers import free_port

pytestmark = pytest.mark.slow


class Collector:
    """Accepts POST /v1/traces (protobuf) like an OpenTelemetry collector and keeps what it received."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[ExportTraceServiceRequest] = []
        self.headers: list[dict[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                owner.requests.append(request)
                owner.headers.append({k.lower(): v for k, v in self.headers.items()})
                data = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        serve = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        serve.daemon = True
        serve.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/traces"

    def spans(self) -> Iterator[tuple[str, Any, Any]]:
        """(service.name, span, its attributes as a dict) for every span received."""
        for request in list(self.requests):
            for resource_spans in request.resource_spans:
                resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        attributes = {a.key: _value(a.value) for a in span.attributes}
                        yield resource["service.name"], span, attributes

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _value(value: AnyValue) -> Any:
    return getattr(value, value.WhichOneof("value"))


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    yield c
    c.close()


def test_serve_exports_the_call_spans_to_an_otlp_collector(tmp_path: Path, collector: Collector) -> None:
    instance = Instance(tmp_path / "home")
    instance.service("echo", "tests.factories:double")
    server = instance.serve(
        tmp_path / "server.log",
        SHIPYARD_TRACING__OTLP_ENDPOINT=collector.url,
        SHIPYARD_TRACING__SERVICE_NAME="shipyard-under-test",
        SHIPYARD_TRACING__HEADERS='{"x-collector-key": "k-123"}',
        OTEL_BSP_SCHEDULE_DELAY="100",  # the SDK's batch delay, so the test waits 0.1 s, not 5 s
    )
    try:
        r = httpx.post(
            f"{server.url}/v1/services/echo/invoke",
            json={"inputs": {"x": 21}},
            headers={"Authorization": f"Bearer {instance.consumer_key}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        request_id = r.json()["request_id"]
        deadline = time.monotonic() + 30
        mine: list[tuple[str, Any, Any]] = []
        while time.monotonic() < deadline:
            received = list(collector.spans())
            roots = [s for s in received if s[2].get("shipyard.request_id") == request_id]
            if roots:
                trace_id = roots[0][1].trace_id
                mine = [s for s in received if s[1].trace_id == trace_id]
                if len(mine) >= 7:
                    break
            time.sleep(0.1)
        assert mine, f"no span with request id {request_id}; got {len(collector.requests)} exports"
        names = {span.name for _, span, _ in mine}
        steps = {"shipyard.auth", "shipyard.route", "shipyard.validate", "shipyard.model", "shipyard.record"}
        assert {"POST /v1/services/{slug}/invoke", *steps} <= names
        (service_name, _, attrs) = next(s for s in mine if s[2].get("shipyard.request_id") == request_id)
        assert service_name == "shipyard-under-test"
        assert attrs["shipyard.service"] == "echo" and attrs["shipyard.outcome"] == "served"
        assert attrs["shipyard.version"] == 1 and attrs["http.response.status_code"] == 200
        assert collector.headers[0]["x-collector-key"] == "k-123"
        assert collector.headers[0]["content-type"] == "application/x-protobuf"
        server.assert_healthy()
    finally:
        server.stop()
