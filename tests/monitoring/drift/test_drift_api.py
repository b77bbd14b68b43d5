"""Drift over HTTP: reference uploads (good and bad files), capture, run-now, the page, permissions."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import httpx
import pytest

from shipyard.core.clock import FrozenClock
from tests.factories import World, bearer
from tests.monitoring.drift.live import csv_bytes, jsonl, make_service, record, rows

REF = "/v1/services/scorer/versions/1/reference"


@pytest.fixture
def keys(world: World) -> dict[str, str]:
    made = {
        role: world.user_with_key(f"u-{role}", [role])
        for role in ("admin", "analyst", "operator", "consumer")
    }
    made["owner"] = world.user_with_key("olivia", ["owner"])
    made["other-owner"] = world.user_with_key("oscar", ["owner"])
    make_service(world, owner="olivia")
    return made


async def test_upload_csv_and_jsonl_references(client: httpx.AsyncClient, keys: dict[str, str]) -> None:
    r = await client.post(
        REF,
        content=csv_bytes(rows(300, seed=1)),
        params={"output_column": "output", "confidence_column": "confidence"},
        headers={**bearer(keys["owner"]), "content-type": "text/csv"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["rows"] == 300 and body["source"] == "upload:csv" and body["set_by"].startswith("key:sy_")
    assert {f["name"]: (f["role"], f["kind"]) for f in body["features"].values()} == {
        "x": ("input", "numeric"),
        "amount": ("input", "numeric"),
        "region": ("input", "categorical"),
        "plan": ("input", "categorical"),
        "output": ("output", "numeric"),
        "confidence": ("confidence", "numeric"),
    }
    # JSONL in the recorded shape, as a multipart upload, replaces it; a declared kind wins.
    r = await client.post(
        REF,
        files={"file": ("ref.jsonl", jsonl(rows(200, seed=2, text=True)))},
        params={"kinds": "plan=text"},
        headers=bearer(keys["admin"]),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["source"] == "upload:jsonl" and body["source_detail"]["file"] == "ref.jsonl"
    assert body["features"]["input:comment"]["kind"] == "text"
    assert body["features"]["input:plan"]["kind"] == "text"
    r = await client.get(REF, headers=bearer(keys["analyst"]))
    assert r.status_code == 200 and r.json()["rows"] == 200


@pytest.mark.parametrize(
    ("content", "params", "code", "words"),
    [
        (b"", {"format": "csv"}, "bad_file", "empty"),
        (b"x,x\n1,2\n", {"format": "csv"}, "bad_file", "repeats columns"),
        (b"x,region\n1,north\n2\n", {"format": "csv"}, "bad_file", "line 3"),
        (b'{"x": 1}\n{"x": \n', {"format": "jsonl"}, "bad_file", "line 2 is not valid JSON"),
        (b'{"x": 1}\n[1, 2]\n', {"format": "jsonl"}, "bad_file", "must be an object"),
        (b'{"x": 1}\n' * 10, {"format": "jsonl"}, "reference_too_small", "at least 50 rows"),
        (
            b'{"x": 1, "confidence": "high"}\n',
            {"format": "jsonl", "confidence_column": "confidence"},
            "bad_file",
            "not a number",
        ),
        (b'{"x": 1}\n', {"format": "xlsx"}, "bad_format", "csv or jsonl"),
        (
            b'{"x": 1}\n' * 60,
            {"format": "jsonl", "kinds": "x=colour"},
            "bad_kind",
            "numeric, categorical or text",
        ),
        (b'{"x": 1}\n' * 60, {"format": "jsonl", "kinds": "nope=text"}, "bad_kind", "['nope']"),
    ],
)
async def test_bad_reference_files_are_refused_with_the_reason(
    client: httpx.AsyncClient,
    keys: dict[str, str],
    content: bytes,
    params: dict[str, str],
    code: str,
    words: str,
) -> None:
    r = await client.post(REF, content=content, params=params, headers=bearer(keys["owner"]))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code and words in r.json()["detail"]
    r = await client.get(REF, headers=bearer(keys["owner"]))
    assert r.status_code == 404 and r.json()["code"] == "no_reference"


async def test_capture_check_now_and_the_page(
    client: httpx.AsyncClient, keys: dict[str, str], world: World, clock: FrozenClock
) -> None:
    r = await client.post("/v1/services/scorer/drift/check", headers=bearer(keys["operator"]))
    assert r.status_code == 409 and r.json()["code"] == "no_reference"
    start = clock.now()
    record(world, "scorer", rows(1000, seed=1), start)
    r = await client.post(
        f"{REF}/capture",
        json={"start": start.isoformat(), "end": (start + timedelta(minutes=5)).isoformat()},
        headers=bearer(keys["owner"]),
    )
    assert r.status_code == 201 and r.json()["rows"] == 1000 and r.json()["source"] == "capture"
    clock.advance(hours=2)
    record(world, "scorer", rows(1000, seed=2, shift=0.6), clock.now() - timedelta(minutes=5))
    r = await client.post("/v1/services/scorer/drift/check", headers=bearer(keys["operator"]))
    assert r.status_code == 200, r.text
    (run,) = r.json()
    assert run["verdict"] == "drift" and run["trigger"].startswith("key:sy_") and run["live_rows"] == 1000
    assert {f["name"] for f in run["features"] if f["drifted"]} == {"x", "output"}
    r = await client.get("/v1/services/scorer/drift", headers=bearer(keys["analyst"]))
    body = r.json()
    assert r.status_code == 200 and [x["id"] for x in body["latest"]] == [run["id"]]
    assert body["references"][0]["source"] == "capture" and body["history"] == []
    # The page: verdict, the per-feature table, a trend and a histogram per feature, all valid SVG.
    r = await client.get("/services/scorer/drift", headers=bearer(keys["analyst"]))
    assert r.status_code == 200
    page = r.text
    assert 'class="badge paused">drift<' in page and "capture" in page
    svgs = [chunk.split("</svg>")[0] + "</svg>" for chunk in page.split('<svg class="chart"')[1:]]
    assert len(svgs) == 2 * 6  # six features (x, amount, region, plan, output, confidence), two charts each
    for svg in svgs:
        ET.fromstring('<svg class="chart"' + svg)
    assert "x: share of rows, reference vs live" in page and "region: js distance per run" in page
    assert "Check now" not in page  # analysts read; they do not run checks
    r = await client.get("/services/scorer/drift", headers=bearer(keys["operator"]))
    assert "Check now" in r.text
    r = await client.post("/services/scorer/drift/check", headers=bearer(keys["operator"]))
    assert r.status_code == 303 and r.headers["location"] == "/services/scorer/drift?flash=checked"


async def test_thresholds_over_http(client: httpx.AsyncClient, keys: dict[str, str]) -> None:
    url = "/v1/services/scorer/drift/thresholds"
    r = await client.put(
        url, json={"js_distance": 0.05, "min_drift_share": 0.5}, headers=bearer(keys["owner"])
    )
    assert r.status_code == 200 and r.json()["overrides"] == {"js_distance": 0.05, "min_drift_share": 0.5}
    r = await client.get(url, headers=bearer(keys["analyst"]))
    assert r.json()["thresholds"]["js_distance"] == 0.05 and r.json()["updated_by"].startswith("key:sy_")
    r = await client.put(url, json={"psi": -1}, headers=bearer(keys["owner"]))
    assert r.status_code == 422 and r.json()["code"] == "invalid_input" and "psi" in r.json()["detail"]
    r = await client.put(url, json={"nonsense": 1}, headers=bearer(keys["owner"]))
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        ("analyst", "GET", "/v1/services/scorer/drift", True),
        ("analyst", "POST", "/v1/services/scorer/drift/check", False),
        ("analyst", "PUT", "/v1/services/scorer/drift/thresholds", False),
        ("operator", "POST", REF, False),
        ("operator", "POST", "/v1/services/scorer/drift/check", True),
        ("consumer", "GET", "/v1/services/scorer/drift", False),
        ("consumer", "GET", "/services/scorer/drift", False),
        ("other-owner", "POST", "/v1/services/scorer/drift/check", False),
        ("other-owner", "PUT", "/v1/services/scorer/drift/thresholds", False),
        ("owner", "POST", "/v1/services/scorer/drift/check", True),
    ],
)
async def test_permissions(
    client: httpx.AsyncClient, keys: dict[str, str], role: str, method: str, path: str, allowed: bool
) -> None:
    kwargs = {"json": {}} if method == "PUT" else {}
    r = await client.request(method, path, headers=bearer(keys[role]), **kwargs)  # type: ignore[arg-type]
    if allowed:
        assert r.status_code not in (401, 403), r.text
    else:
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
