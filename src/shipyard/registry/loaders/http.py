"""The `http` loader: a model served elsewhere, called with one JSON POST per input.

The request body is {input_field: <the input object>}; the answer must be a JSON object whose
output_field is the output and whose confidence_field, when present, the confidence.

A connection failure or timeout raises Unavailable (code "upstream_unavailable"); a 5xx or a 429
raises Unavailable (code "upstream_error"): both are retried with back-off under the service's retry
policy, then fall back. Any other non-2xx
status, a body that is not JSON, or one without the output field raises ModelFailed.

The runtime uses LoadSpec.http_client when given (its owner closes it), else a client of its own that
close() closes. Every call carries the version's timeout, whichever client it is.

Config keys:
    input_field (str): the request body's key for the input object; default "inputs".
    output_field (str): the answer's key for the output; default "output".
    confidence_field (str): the answer's key for the confidence; default "confidence".
    headers (dict[str, str]): extra request headers. A value "env:NAME" is read from the environment
        variable NAME when the version is loaded, so secrets never sit in the registry.
    model (str): the model name prices are looked up by when the answer names none.

Token usage: when the answer carries `usage` (OpenAI's {"prompt_tokens", "completion_tokens"}, or
{"input_tokens", "output_tokens"}) it is recorded with the call, priced by the answer's `model` field
(else config.model); a usage that cannot be read is ignored, never a reason to fail the call.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from shipyard.core.errors import InvalidInput, ModelFailed, Unavailable
from shipyard.registry.loaders.base import LoadSpec, ModelOutput, Runtime, Usage, make_output, parse_usage

_FIELDS = {"input_field": "inputs", "output_field": "output", "confidence_field": "confidence"}
_ENV_PREFIX = "env:"


class HttpRuntime:
    """Calls a remote model endpoint; a batch is one call per input."""

    remote = True  # its Unavailable failures are safe to retry (serving/lanes.py)

    def __init__(
        self,
        client: httpx.Client,
        *,
        owns_client: bool,
        url: str,
        headers: dict[str, str],
        timeout_s: float,
        fields: dict[str, str],
        returns_confidence: bool,
        model: str | None = None,
    ) -> None:
        self._client = client
        self._model = model
        self._owns_client = owns_client
        self._url = url
        # messages may reach API callers and logs: no credentials or query string in them
        self._where = str(httpx.URL(url).copy_with(username=None, password=None, query=None, fragment=None))
        self._headers = headers
        self._timeout = timeout_s
        self._input_field = fields["input_field"]
        self._output_field = fields["output_field"]
        self._confidence_field = fields["confidence_field"]
        self._returns_confidence = returns_confidence

    def predict(self, inputs: dict[str, Any]) -> ModelOutput:
        try:
            response = self._client.post(
                self._url, json={self._input_field: inputs}, headers=self._headers, timeout=self._timeout
            )
        except httpx.TimeoutException as exc:
            raise Unavailable(
                f"model endpoint {self._where} did not answer within {self._timeout:g}s",
                code="upstream_unavailable",
            ) from exc
        except httpx.TransportError as exc:
            raise Unavailable(
                f"cannot reach model endpoint {self._where}: {type(exc).__name__}",
                code="upstream_unavailable",
            ) from exc
        except httpx.HTTPError as exc:
            raise ModelFailed(f"call to model endpoint {self._where} failed: {exc}") from exc

        status = response.status_code
        if status >= 500 or status == 429:
            raise Unavailable(
                f"model endpoint {self._where} answered {status} {response.reason_phrase}",
                code="upstream_error",
                upstream_status=status,
            )
        if not 200 <= status < 300:
            raise ModelFailed(
                f"model endpoint {self._where} answered {status} {response.reason_phrase}",
                upstream_status=status,
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise ModelFailed(f"model endpoint {self._where} answered with a body that is not JSON") from exc
        if not isinstance(body, dict) or self._output_field not in body:
            raise ModelFailed(
                f"model endpoint {self._where} answered without the '{self._output_field}' field"
            )
        return make_output(
            body[self._output_field],
            body.get(self._confidence_field),
            returns_confidence=self._returns_confidence,
            usage=self._usage(body),
        )

    def _usage(self, body: dict[str, Any]) -> Usage | None:
        model = body.get("model")
        try:
            return parse_usage(body.get("usage"), model if isinstance(model, str) else self._model)
        except ValueError:  # a provider's odd accounting must not fail an otherwise good answer
            return None

    def predict_batch(self, batch: list[dict[str, Any]]) -> list[ModelOutput]:
        return [self.predict(inputs) for inputs in batch]

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


class HttpLoader:
    """Builds runtimes for remote JSON endpoints; see the module docstring for the config keys."""

    name = "http"

    def validate(self, spec: LoadSpec) -> None:
        _check_url(spec.entrypoint)
        for key in _FIELDS:
            value = spec.config.get(key, _FIELDS[key])
            if not isinstance(value, str) or not value:
                raise InvalidInput(f"config.{key} must be a non-empty string")
        headers = spec.config.get("headers", {})
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise InvalidInput("config.headers must map header names to string values")
        model = spec.config.get("model")
        if model is not None and (not isinstance(model, str) or not model):
            raise InvalidInput("config.model must be a non-empty string (the model name prices are keyed by)")
        for name, value in headers.items():
            if value.startswith(_ENV_PREFIX) and not value[len(_ENV_PREFIX) :]:
                raise InvalidInput(f"config.headers['{name}'] names no environment variable after 'env:'")

    def load(self, spec: LoadSpec) -> Runtime:
        self.validate(spec)
        assert spec.entrypoint is not None  # checked by validate
        headers = {
            name: _resolve_header(name, value) for name, value in spec.config.get("headers", {}).items()
        }
        client = spec.http_client
        return HttpRuntime(
            client if client is not None else httpx.Client(timeout=spec.timeout_s),
            owns_client=client is None,
            url=spec.entrypoint,
            headers=headers,
            timeout_s=spec.timeout_s,
            fields={key: spec.config.get(key, default) for key, default in _FIELDS.items()},
            returns_confidence=spec.returns_confidence,
            model=spec.config.get("model"),
        )


def _check_url(url: str | None) -> None:
    if not url:
        raise InvalidInput("the http loader needs the endpoint URL as its entrypoint")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidInput(f"the entrypoint is not a valid URL: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidInput("the http loader's entrypoint must be an http:// or https:// URL with a host")


def _resolve_header(name: str, value: str) -> str:
    if not value.startswith(_ENV_PREFIX):
        return value
    variable = value[len(_ENV_PREFIX) :]
    resolved = os.environ.get(variable)
    if resolved is None:
        raise InvalidInput(f"header '{name}' reads environment variable {variable}, which is not set")
    return resolved
