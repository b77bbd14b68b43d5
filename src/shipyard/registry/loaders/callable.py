"""The `callable` loader: run a Python function, class or object named by "package.module:attr".

The target may be:
- a function taking the input dict;
- a class, instantiated once at load time (with no arguments, or with config["init_kwargs"]); its
  instance's `close()`, if any, is called when the runtime closes. A class whose `__init__` takes a
  `host` argument is given the serving process's resources (`LoadSpec.host`), e.g. the policy corpus;
- an object with a `predict(inputs)` method, or a callable object.
A `predict_batch(batch)` method on the object, when present, is used for batches.

It may return a plain value, an `(output, confidence)` tuple, or {"output": ..., "confidence": ...}.

If the artifact is a directory it is put on sys.path first, so a version can ship its own module.
Modules live in one interpreter-wide namespace: two versions shipping a module of the same name
share whichever was imported first, so give each version's module a distinct name.

Config keys:
    init_kwargs (dict): keyword arguments for the class, when the target is a class.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
import threading
from collections.abc import Callable
from typing import Any

from shipyard.core.errors import InvalidInput
from shipyard.registry.loaders.base import (
    LoadSpec,
    ModelOutput,
    Runtime,
    check_batch_length,
    model_errors,
    parse_result,
)

_ENTRYPOINT = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_sys_path_lock = threading.Lock()


class CallableRuntime:
    """Calls a resolved Python callable; batches use the object's predict_batch when it has one."""

    def __init__(
        self,
        fn: Callable[[dict[str, Any]], Any],
        *,
        batch_fn: Callable[[list[dict[str, Any]]], Any] | None,
        close_fn: Callable[[], Any] | None,
        returns_confidence: bool,
    ) -> None:
        self._fn = fn
        self._batch_fn = batch_fn
        self._close_fn = close_fn
        self._returns_confidence = returns_confidence

    def predict(self, inputs: dict[str, Any]) -> ModelOutput:
        with model_errors():
            raw = self._fn(inputs)
        return parse_result(raw, returns_confidence=self._returns_confidence)

    def predict_batch(self, batch: list[dict[str, Any]]) -> list[ModelOutput]:
        if self._batch_fn is None:
            return [self.predict(inputs) for inputs in batch]
        with model_errors():
            raws = list(self._batch_fn(batch))
        check_batch_length(raws, len(batch))
        return [parse_result(raw, returns_confidence=self._returns_confidence) for raw in raws]

    def close(self) -> None:
        close_fn, self._close_fn = self._close_fn, None
        if close_fn is not None:
            with model_errors("model close()"):
                close_fn()


class CallableLoader:
    """Loads "module:attr" targets; see the module docstring for what the target may be."""

    name = "callable"

    def validate(self, spec: LoadSpec) -> None:
        if not spec.entrypoint or not _ENTRYPOINT.match(spec.entrypoint):
            raise InvalidInput(
                f"the callable loader needs an entrypoint 'package.module:attr', got {spec.entrypoint!r}"
            )
        if spec.artifact_path is not None and not spec.artifact_path.is_dir():
            raise InvalidInput("the callable loader's artifact must be a directory of Python code")
        init_kwargs = spec.config.get("init_kwargs", {})
        if not isinstance(init_kwargs, dict) or not all(isinstance(k, str) for k in init_kwargs):
            raise InvalidInput("config.init_kwargs must be an object of keyword arguments")

    def load(self, spec: LoadSpec) -> Runtime:
        self.validate(spec)
        assert spec.entrypoint is not None  # checked by validate
        if spec.artifact_path is not None:
            _add_to_sys_path(str(spec.artifact_path))
        target = _resolve(spec.entrypoint)
        owned = inspect.isclass(target)
        if owned:
            kwargs = dict(spec.config.get("init_kwargs", {}))
            if "host" in inspect.signature(target).parameters:
                kwargs["host"] = spec.host
            try:
                target = target(**kwargs)
            except Exception as exc:
                raise InvalidInput(
                    f"instantiating {spec.entrypoint} failed: {type(exc).__name__}: {exc}"
                ) from exc
        predict = getattr(target, "predict", None)
        fn = predict if callable(predict) else target
        if not callable(fn):
            raise InvalidInput(
                f"{spec.entrypoint} is a {type(target).__name__}, which is not callable "
                "and has no predict method"
            )
        batch_fn = getattr(target, "predict_batch", None)
        # only an instance made here is ours to close; a module-level object may serve other versions
        close_fn = getattr(target, "close", None) if owned else None
        return CallableRuntime(
            fn,
            batch_fn=batch_fn if callable(batch_fn) else None,
            close_fn=close_fn if callable(close_fn) else None,
            returns_confidence=spec.returns_confidence,
        )


def needs_host(entrypoint: str) -> bool:
    """Whether the target is a class that asks for the serving process's resources (`host`), and so
    can only run in process. Only for installed code: a version's own code is not importable here."""
    if not _ENTRYPOINT.match(entrypoint):
        return False
    try:
        target = _resolve(entrypoint)
    except InvalidInput:
        return False
    return inspect.isclass(target) and "host" in inspect.signature(target).parameters


def _add_to_sys_path(directory: str) -> None:
    with _sys_path_lock:
        if directory not in sys.path:
            sys.path.insert(0, directory)
        # a directory unpacked after the last import would otherwise be missed by the finder caches
        importlib.invalidate_caches()


def _resolve(entrypoint: str) -> Any:
    module_name, _, attr_path = entrypoint.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name or module_name.startswith(f"{exc.name}."):
            raise InvalidInput(f"module '{module_name}' not found (entrypoint {entrypoint})") from exc
        raise InvalidInput(f"importing module '{module_name}' failed: {exc}") from exc
    except Exception as exc:
        raise InvalidInput(f"importing module '{module_name}' failed: {type(exc).__name__}: {exc}") from exc
    target: Any = module
    for part in attr_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise InvalidInput(f"module '{module_name}' has no attribute '{attr_path}'") from exc
    return target
