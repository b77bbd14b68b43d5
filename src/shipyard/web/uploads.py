"""Receiving a CSV or JSONL file (batch jobs, drift reference data): as multipart, or as the raw
body with its format named by `?format=` or the Content-Type. Spooled to disk, never held in memory."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import Request
from starlette.datastructures import UploadFile

from shipyard.core.errors import InvalidInput

FORMAT_BY_TYPE = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
}

# The request body as OpenAPI describes it (the routes read the body themselves, to stream it).
TABLE_UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "format": {"type": "string", "enum": ["csv", "jsonl"]},
                    },
                    "required": ["file"],
                }
            },
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}


async def receive_table_file(
    request: Request, folder: Path, fmt: str | None, default_name: str
) -> tuple[Path, str, str | None]:
    """The uploaded file written into `folder`, its name, and the format the request names (if any)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        async with request.form() as form:  # closes the spooled upload when done
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidInput("send the file in a multipart field named 'file'", code="no_file")
            named = form.get("format")
            name = Path(upload.filename or default_name).name
            path = folder / name
            with path.open("wb") as fh:
                await anyio.to_thread.run_sync(shutil.copyfileobj, upload.file, fh)
        return path, name, fmt or (named if isinstance(named, str) and named else None)
    fmt = fmt or FORMAT_BY_TYPE.get(content_type.split(";")[0].strip().lower())
    if fmt is None:
        raise InvalidInput(
            "say the file's format: ?format=csv or ?format=jsonl, or a Content-Type of text/csv or "
            "application/x-ndjson",
            code="bad_format",
        )
    name = Path(request.query_params.get("name") or f"{default_name}.{fmt}").name
    path = folder / name
    with path.open("wb") as fh:
        async for chunk in request.stream():
            await anyio.to_thread.run_sync(fh.write, chunk)
    return path, name, fmt
