"""Process isolation with real spawned processes: crashes, hangs, leaks and shutdown."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipyard.core.errors import InvalidInput, ModelFailed, Timeout, Unavailable
from shipyard.registry.loaders import LoadSpec, ModelOutput
from shipyard.serving.isolation import ProcessRuntime
from shipyard.serving.policy import IsolationPolicy

MakeRuntime = Callable[..., ProcessRuntime]


def make_spec(attr: str, *, timeout_s: float = 10.0, **overrides: Any) -> LoadSpec:
    values: dict[str, Any] = {
        "artifact_path": None,
        "entrypoint": f"tests.isolation_models:{attr}",
        "config": {},
        "input_schema": {"type": "object"},
        "returns_confidence": True,
        "timeout_s": timeout_s,
    }
    values.update(overrides)
    return LoadSpec(**values)


@pytest.fixture
def make_runtime() -> Iterator[MakeRuntime]:
    """Build runtimes that are closed after the test, and check they left no process behind."""
    made: list[ProcessRuntime] = []

    def make(
        attr: str, *, timeout_s: float = 10.0, config: dict[str, Any] | None = None, **policy: Any
    ) -> ProcessRuntime:
        spec = make_spec(attr, timeout_s=timeout_s, config=config or {})
        runtime = ProcessRuntime("callable", spec, IsolationPolicy(mode="process", **policy), label=attr)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()
    assert model_processes() == []


def model_processes() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name.startswith("shipyard-model:")]


def exists(pid: int) -> bool:
    """True while the process exists, zombies included (a reaped child has no /proc entry)."""
    return Path(f"/proc/{pid}").exists()


def dead_unreaped(pid: int) -> bool:
    """True once every thread of the process has exited (so its files are closed) but it is not reaped.

    The main thread of a multi-threaded process turns zombie while the others may still hold the
    shared file table, so the main thread's state alone is not enough.
    """
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return tasks == [str(pid)] and state == "Z"


def wait_until(condition: Callable[[], bool], *, attempts: int = 1500) -> None:
    """Poll for what a background restart will make true: bounded, and no duration is asserted."""
    event = threading.Event()
    for _ in range(attempts):
        if condition():
            return
        event.wait(0.02)
    raise AssertionError("condition never became true")


# --- results ---------------------------------------------------------------------------------------


def test_predict_and_batch_give_the_model_results(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime("double", workers=2)

    assert runtime.predict({"x": 2}) == ModelOutput(output=4, confidence=0.75)
    assert runtime.predict_batch([{"x": 1}, {"x": 2.5}, {"x": -3}]) == [
        ModelOutput(output=2, confidence=0.75),
        ModelOutput(output=5.0, confidence=0.75),
        ModelOutput(output=-6, confidence=0.75),
    ]
    assert runtime.predict_batch([]) == []
    stats = runtime.stats()
    assert stats["alive"] == 2 and len(stats["pids"]) == 2 and stats["calls"] == 2
    assert os.getpid() not in stats["pids"]


def test_an_http_client_in_the_spec_stays_in_the_server() -> None:
    with httpx.Client() as client:
        spec = make_spec("double", http_client=client)
        runtime = ProcessRuntime("callable", spec, IsolationPolicy(mode="process"), label="double")
        try:
            assert runtime.predict({"x": 1}).output == 2
        finally:
            runtime.close()


def test_concurrent_calls_are_spread_over_the_workers(make_runtime: MakeRuntime, tmp_path: Path) -> None:
    runtime = make_runtime("rendezvous", workers=3, timeout_s=10)

    # Each call returns only when all three run at once, so they must be on three distinct processes.
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(runtime.predict, [{"dir": str(tmp_path), "n": 3}] * 3))

    pids = {answer.output["pid"] for answer in answers}
    assert pids == set(runtime.stats()["pids"]) and len(pids) == 3


def test_many_threads_share_few_workers(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime("double", workers=2)

    with ThreadPoolExecutor(8) as pool:
        outputs = list(pool.map(lambda x: runtime.predict({"x": x}).output, range(200)))

    assert outputs == [2 * x for x in range(200)]
    assert runtime.stats()["calls"] == 200


# --- errors the model raises -------------------------------------------------------------------------


def test_a_model_exception_comes_back_with_its_type_and_message(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime("value_error")

    with pytest.raises(ModelFailed) as caught:
        runtime.predict({"x": -1, "misbehave": True})

    assert caught.value.code == "model_failed"
    assert "ValueError: x must be positive, got -1" in caught.value.detail
    assert runtime.predict({"x": 1}).output == 2
    assert runtime.stats()["crashes"] == 0


def test_a_nan_output_is_refused_with_the_loaders_code(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime("not_a_number")

    with pytest.raises(ModelFailed) as caught:
        runtime.predict({"x": 1})

    assert caught.value.code == "bad_output"
    assert "non-finite" in caught.value.detail


def test_shipyard_errors_keep_their_class_code_and_extra(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime("upstream_down")

    with pytest.raises(Unavailable) as caught:
        runtime.predict({"x": 1})

    assert type(caught.value) is Unavailable
    assert caught.value.code == "feature_store_down"
    assert caught.value.detail == "the feature store is down"
    assert caught.value.extra == {"retry_after": 3}


# --- crashes, hangs, leaks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attr", "reason"),
    [("segfault", "was killed by SIGSEGV (signal 11)"), ("exit3", "exited with code 3")],
)
def test_a_crash_fails_only_its_call_and_the_worker_is_replaced(
    make_runtime: MakeRuntime, attr: str, reason: str
) -> None:
    runtime = make_runtime(attr)
    [old_pid] = runtime.stats()["pids"]

    with pytest.raises(ModelFailed) as caught:
        runtime.predict({"x": 1, "misbehave": True})

    assert caught.value.code == "model_crashed"
    assert reason in caught.value.detail and str(old_pid) in caught.value.detail
    assert runtime.predict({"x": 4}).output == 8  # waits for the fresh process
    stats = runtime.stats()
    assert stats["crashes"] == 1 and stats["restarts"] == 1 and reason in stats["last_crash"]
    assert stats["pids"] != [old_pid] and not exists(old_pid)


def test_a_crash_leaves_the_other_workers_serving(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime("exit3", workers=2)

    with pytest.raises(ModelFailed):
        runtime.predict({"x": 1, "misbehave": True})

    # The survivor answers at once; the replacement joins it in the background.
    assert runtime.predict({"x": 1}).output == 2
    wait_until(lambda: runtime.stats()["alive"] == 2)


def test_a_worker_killed_while_idle_costs_no_call(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime("double")
    [old_pid] = runtime.stats()["pids"]

    os.kill(old_pid, signal.SIGKILL)  # what the out-of-memory killer does
    wait_until(lambda: dead_unreaped(old_pid))

    assert runtime.predict({"x": 5}).output == 10
    stats = runtime.stats()
    assert stats["crashes"] == 1 and "SIGKILL" in stats["last_crash"] and "idle" in stats["last_crash"]
    assert stats["pids"] != [old_pid] and not exists(old_pid)


def test_inputs_that_cannot_be_sent_are_invalid(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime("double")

    with pytest.raises(InvalidInput) as caught:
        runtime.predict({"x": threading.Lock()})

    assert caught.value.code == "invalid_input"
    assert "cannot be sent to the model process" in caught.value.detail


def test_a_hung_call_times_out_and_its_process_is_killed(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime("hang", timeout_s=1.0)
    [old_pid] = runtime.stats()["pids"]

    with pytest.raises(Timeout) as caught:
        runtime.predict({"x": 1, "misbehave": True})

    assert caught.value.code == "timeout"
    assert str(old_pid) in caught.value.detail
    # the budget is a second, waiting for a worker included, so let the restart finish first
    wait_until(lambda: runtime.stats()["alive"] == 1)
    assert runtime.predict({"x": 3}).output == 6
    stats = runtime.stats()
    assert stats["timeouts"] == 1 and stats["restarts"] == 1
    assert stats["pids"] != [old_pid] and not exists(old_pid)


def test_a_worker_is_recycled_after_max_calls(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime("Counter", max_calls_per_worker=2)

    answers = [runtime.predict({}).output for _ in range(5)]

    assert [a["calls"] for a in answers] == [1, 2, 1, 2, 1]
    pids = [a["pid"] for a in answers]
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
    assert runtime.stats()["recycled"] == 2 and runtime.stats()["crashes"] == 0
    assert not exists(pids[0])


def test_the_memory_limit_kills_only_the_worker(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime("allocate", memory_mb=1024)

    with pytest.raises(ModelFailed) as caught:
        runtime.predict({"x": 1, "misbehave": True, "mb": 8192})

    assert caught.value.code == "model_crashed"
    assert "ran out of memory (memory_mb=1024)" in caught.value.detail
    assert runtime.predict({"x": 1, "misbehave": True, "mb": 64}).output == 64 * 1024 * 1024
    assert runtime.stats()["crashes"] == 1


def test_when_restarts_fail_calls_fail_fast_until_the_model_loads_again(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    flag = tmp_path / "broken"
    runtime = make_runtime("LoadsUnlessFlagged", config={"init_kwargs": {"flag": str(flag)}}, timeout_s=10)
    flag.touch()

    with pytest.raises(ModelFailed):
        runtime.predict({"x": 1, "misbehave": True})
    with pytest.raises(Unavailable) as caught:
        runtime.predict({"x": 1})

    assert caught.value.code == "model_unavailable"
    assert f"refusing to load while {flag} exists" in caught.value.detail
    flag.unlink()
    wait_until(lambda: runtime.stats()["alive"] == 1)
    assert runtime.predict({"x": 1}).output == 2


# --- loading and closing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loader", "attr", "message"),
    [
        ("callable", "missing", "module 'tests.isolation_models' has no attribute 'missing'"),
        ("callable", "BrokenAtLoad", "RuntimeError: weights file is corrupt"),
        ("no-such-loader", "double", "unknown loader 'no-such-loader'"),
    ],
)
def test_a_load_error_surfaces_with_the_loaders_message(loader: str, attr: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        ProcessRuntime(loader, make_spec(attr), IsolationPolicy(mode="process", workers=2), label=attr)

    assert caught.value.code == "invalid_input"
    assert message in caught.value.detail
    assert model_processes() == []


def test_close_stops_every_process_and_releases_every_descriptor(make_runtime: MakeRuntime) -> None:
    make_runtime("double").close()  # the first spawn starts multiprocessing's helper; count after it
    fds = sorted(os.listdir("/proc/self/fd"))

    runtime = make_runtime("exit3", workers=3)
    pids = runtime.stats()["pids"]
    with pytest.raises(ModelFailed):
        runtime.predict({"x": 1, "misbehave": True})
    runtime.close()
    runtime.close()

    assert not any(exists(pid) for pid in pids)
    assert model_processes() == []
    assert sorted(os.listdir("/proc/self/fd")) == fds
    assert runtime.stats()["alive"] == 0 and runtime.stats()["closed"]
    with pytest.raises(Unavailable) as caught:
        runtime.predict({"x": 1})
    assert caught.value.code == "runtime_closed"


def test_close_ends_a_call_in_flight(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime("hang", timeout_s=60)
    errors: list[Exception] = []

    def call() -> None:
        try:
            runtime.predict({"x": 1, "misbehave": True})
        except Exception as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    wait_until(lambda: runtime.stats()["busy"] == 1)
    runtime.close()
    caller.join()

    [error] = errors
    assert isinstance(error, Unavailable) and error.code == "runtime_closed"
    assert model_processes() == []
