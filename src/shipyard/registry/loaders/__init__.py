"""Model loaders: the port that turns a registered model version into a runtime.

Loaders are found through the `shipyard.loaders` entry-point group, so a package can add one by
declaring an entry point; the built-in ones are declared in Shipyard's own pyproject.toml.
"""

from __future__ import annotations

import threading
from importlib.metadata import EntryPoint, entry_points
from typing import cast

from shipyard.core.errors import InvalidInput
from shipyard.registry.loaders.base import Loader, LoadSpec, ModelOutput, Runtime, Usage

__all__ = ["LoadSpec", "Loader", "ModelOutput", "Runtime", "Usage", "available_loaders", "get_loader"]

_GROUP = "shipyard.loaders"
_lock = threading.Lock()
_entry_points: dict[str, EntryPoint] | None = None
_loaders: dict[str, Loader] = {}


def _discovered() -> dict[str, EntryPoint]:
    global _entry_points
    if _entry_points is None:
        # a name declared twice (a plugin overriding a built-in) resolves to the last one found
        _entry_points = {ep.name: ep for ep in entry_points(group=_GROUP)}
    return _entry_points


def available_loaders() -> list[str]:
    """Names of the installed loaders, sorted."""
    with _lock:
        return sorted(_discovered())


def get_loader(name: str) -> Loader:
    """The loader registered under `name`; InvalidInput naming the available ones if there is none."""
    with _lock:
        loader = _loaders.get(name)
        if loader is not None:
            return loader
        entry_point = _discovered().get(name)
        if entry_point is None:
            available = ", ".join(sorted(_discovered())) or "none"
            raise InvalidInput(f"unknown loader '{name}'; available loaders: {available}")
        try:
            loader = cast(Loader, entry_point.load()())
        except Exception as exc:
            raise InvalidInput(
                f"loader '{name}' ({entry_point.value}) cannot be loaded: {type(exc).__name__}: {exc}"
            ) from exc
        _loaders[name] = loader
        return loader
