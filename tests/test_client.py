"""The Python client against a real server on loopback: register from objects, files and directories."""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sklearn.linear_model import LogisticRegression

from shipyard.client import Client
from shipyard.core import errors
from shipyard.core.config import Settings
from shipyard.web.app import create_app
from tests.factories import ECHO_SCHEMA, World
from tests.servers import free_port

PUBLIC_API = {"close", "invoke", "make_live", "pause", "register", "resume", "service", "versions"}


def test_public_api_is_pinned() -> None:
    names = {n for n, _ in inspect.getmembers(Client, inspect.isfunction) if not n.startswith("_")}
    assert names == PUBLIC_API


@pytest.fixture
def server(settings: Settings) -> Iterator[tuple[str, World]]:
    app = create_app(settings)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", World(app)
    srv.should_exit = True
    thread.join(timeout=10)


def test_register_object_make_live_invoke_pause(server: tuple[str, World], tmp_path: Path) -> None:
    url, world = server
    key = world.user_with_key("olivia", ["owner"])
    with Client(url, key) as client:
        with world.ctx.uow() as s:
            from shipyard.registry import service as registry
            from shipyard.registry.schemas import ServiceCreate

            registry.create_service(
                s,
                world.actor(),
                ServiceCreate(
                    slug="iris",
                    name="Iris",
                    owner="olivia",
                    input_schema={
                        "type": "object",
                        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                        "required": ["a", "b"],
                    },
                ),
            )
        model = LogisticRegression().fit([[0, 0], [1, 1], [0, 1], [1, 0]], ["no", "yes", "no", "yes"])
        version = client.register("iris", model, config={"input_format": "array"}, make_live=True)
        assert version["number"] == 1 and version["loader"] == "joblib" and version["returns_confidence"]
        assert version["live"] is True and len(version["artifact_sha256"]) == 64

        result = client.invoke("iris", {"a": 1.0, "b": 1.0})
        assert result["output"] == "yes" and 0.5 < result["confidence"] <= 1 and result["version"] == 1

        with pytest.raises(errors.InvalidInput) as bad:
            client.invoke("iris", {"a": "one"})
        assert bad.value.code == "schema_violation" and len(bad.value.extra["errors"]) == 2

        client.pause("iris", "checking a complaint")
        with pytest.raises(errors.Paused) as paused:
            client.invoke("iris", {"a": 1.0, "b": 1.0})
        assert "checking a complaint" in paused.value.detail
        client.resume("iris")
        assert client.invoke("iris", {"a": 0.0, "b": 0.0})["output"] == "no"


def test_register_directory_with_callable_code(server: tuple[str, World], tmp_path: Path) -> None:
    url, world = server
    key = world.user_with_key("olivia", ["owner"])
    with world.ctx.uow() as s:
        from shipyard.registry import service as registry
        from shipyard.registry.schemas import ServiceCreate

        registry.create_service(
            s,
            world.actor(),
            ServiceCreate(slug="echo", name="Echo", owner="olivia", input_schema=ECHO_SCHEMA),
        )
    code = tmp_path / "code"
    code.mkdir()
    (code / "triple_model.py").write_text("def predict(inputs):\n    return inputs['x'] * 3\n")
    with Client(url, key) as client:
        version = client.register(
            "echo", code, loader="callable", entrypoint="triple_model:predict", make_live=True
        )
        assert version["artifact_kind"] == "dir" and "artifact_is_tar" not in version["config"]
        assert client.invoke("echo", {"x": 5})["output"] == 15
        assert [v["number"] for v in client.versions("echo")] == [1]
        with pytest.raises(errors.NotFound):
            client.make_live("echo", 7)
