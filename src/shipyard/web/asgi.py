"""Entry point for ASGI servers: `uvicorn --factory shipyard.web.asgi:create_default_app`."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from shipyard.core.config import Settings
from shipyard.web.app import create_app


def create_default_app() -> FastAPI:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return create_app(Settings())
