"""Request id, body size limit and security headers, as one plain ASGI middleware (no per-request
task or buffering, unlike BaseHTTPMiddleware, because it sits in front of every model call)."""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shipyard.core.errors import PayloadTooLarge
from shipyard.core.ids import new_request_id

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_API_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
_PAGE_HEADERS = [
    *_API_HEADERS,
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        b"script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
]


class _TooLarge(PayloadTooLarge):
    """Raised while the app reads the body; the problem handler turns it into a 413."""


def is_upload(method: str, path: str) -> bool:
    """Routes that take files (model artifacts, batch job inputs, documents): the larger upload limit."""
    return method == "POST" and path.rstrip("/").endswith(("/versions", "/jobs", "/documents"))


class EdgeMiddleware:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int, hsts: bool = False, max_upload_bytes: int | None = None
    ) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.max_upload = max(max_upload_bytes or max_body_bytes, max_body_bytes)
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        length = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                request_id = candidate if _SAFE_ID.match(candidate) else None
            elif name == b"content-length":
                length = int(value) if value.isdigit() else None
        request_id = request_id or new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        extra = list(_API_HEADERS if scope["path"].startswith("/v1/") else _PAGE_HEADERS)
        if self.hsts:
            extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        extra.append((b"x-request-id", request_id.encode()))

        limit = self.max_upload if is_upload(scope["method"], scope["path"]) else self.max_body
        if length is not None and length > limit:
            await self._reject(send, request_id, extra, limit)
            return

        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(f"the request body exceeds the limit of {limit} bytes")
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _TooLarge:
            if not started:
                await self._reject(send, request_id, extra, limit)

    async def _reject(self, send: Send, request_id: str, extra: list[Any], limit: int) -> None:
        body = orjson.dumps(
            {
                "type": "https://shipyard.dev/problems/payload_too_large",
                "title": "Payload too large",
                "status": 413,
                "code": "payload_too_large",
                "request_id": request_id,
                "detail": f"the request body exceeds the limit of {limit} bytes",
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    *extra,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
