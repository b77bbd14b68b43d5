"""A small Python client for a Shipyard server: invoke, register versions (from a file or a Python
object), make live, pause and resume. Errors come back as the same ShipyardError classes."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from shipyard.core import errors

_BY_STATUS: dict[int, type[errors.ShipyardError]] = {
    401: errors.Unauthenticated,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
    413: errors.PayloadTooLarge,
    422: errors.InvalidInput,
    429: errors.TooManyAttempts,
    502: errors.ModelFailed,
    503: errors.Unavailable,
    504: errors.Timeout,
}


class Client:
    """`Client("http://127.0.0.1:8000", api_key="sy_...")`; usable as a context manager."""

    def __init__(
        self, url: str, api_key: str, *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"Authorization": f"Bearer {api_key}"},
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object | type[BaseException] | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text, "code": "http_error"}
            cls = _BY_STATUS.get(response.status_code, errors.ShipyardError)
            if response.status_code == 503 and body.get("code") == "paused":
                cls = errors.Paused
            extra = {k: v for k, v in body.items() if k not in {"detail", "code", "type", "title", "status"}}
            raise cls(body.get("detail", response.reason_phrase), code=body.get("code"), **extra)
        return response.json() if response.content else None

    def invoke(self, service: str, inputs: Any) -> dict[str, Any]:
        """Call the service's live version; returns output, confidence, outcome, version, request_id."""
        result: dict[str, Any] = self._call("POST", f"/v1/services/{service}/invoke", json={"inputs": inputs})
        return result

    def register(
        self,
        service: str,
        model: object | Path | str | None = None,
        *,
        loader: str | None = None,
        entrypoint: str | None = None,
        config: dict[str, Any] | None = None,
        returns_confidence: bool | None = None,
        description: str = "",
        make_live: bool = False,
    ) -> dict[str, Any]:
        """Register a version from a file/directory path, a Python object (pickled with joblib),
        or with no artifact (a `callable` entrypoint or an `http` URL)."""
        meta: dict[str, Any] = {
            "entrypoint": entrypoint,
            "config": config or {},
            "description": description,
            "make_live": make_live,
        }
        with tempfile.TemporaryDirectory() as tmp:
            upload: Path | None = None
            if isinstance(model, str | Path):
                upload = Path(model)
                if upload.is_dir():
                    import tarfile

                    archive = Path(tmp) / f"{upload.name}.tar"
                    with tarfile.open(archive, "w") as tar:
                        tar.add(upload, arcname=".")
                    upload = archive
                    meta["config"] = {**meta["config"], "artifact_is_tar": True}
            elif model is not None:
                import joblib

                upload = Path(tmp) / "model.joblib"
                joblib.dump(model, upload)
                loader = loader or "joblib"
                if returns_confidence is None:
                    returns_confidence = hasattr(model, "predict_proba")
            if loader is None:
                raise errors.InvalidInput("name a loader (joblib, onnx, mlflow, callable, http)")
            meta["loader"] = loader
            meta["returns_confidence"] = bool(returns_confidence)
            files = {"meta": (None, json.dumps(meta))}
            if upload is None:
                result: dict[str, Any] = self._call("POST", f"/v1/services/{service}/versions", files=files)
                return result
            with upload.open("rb") as fh:
                result = self._call(
                    "POST", f"/v1/services/{service}/versions", files={**files, "artifact": (upload.name, fh)}
                )
            return result

    def make_live(self, service: str, version: int) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", f"/v1/services/{service}/versions/{version}/live")
        return result

    def pause(self, service: str, reason: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", f"/v1/services/{service}/pause", json={"reason": reason})
        return result

    def resume(self, service: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", f"/v1/services/{service}/resume")
        return result

    def service(self, service: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/v1/services/{service}")
        return result

    def versions(self, service: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", f"/v1/services/{service}/versions")
        return result
