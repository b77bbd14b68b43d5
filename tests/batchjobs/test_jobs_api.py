"""Batch jobs through the real app and its runner: scoring, dead letters, retry and exports."""

from __future__ import annotations

import csv
import io
import json

import httpx
from sqlalchemy import select

from shipyard.audit.models import AuditEvent
from shipyard.batchjobs.models import RowAttempt
from shipyard.batchjobs.schemas import COMPLETED_WITH_ERRORS, SUCCEEDED
from shipyard.registry import service as registry
from shipyard.registry.schemas import VersionCreate
from tests.batchjobs.helpers import recorded, submit, wait_for
from tests.factories import World, bearer


def actions(world: World, job_id: str) -> list[tuple[str, str]]:
    with world.ctx.sessions() as s:
        rows = s.execute(
            select(AuditEvent.action, AuditEvent.actor)
            .where(AuditEvent.target_id == job_id)
            .order_by(AuditEvent.seq)
        )
        return [(action, actor) for action, actor in rows]


async def test_csv_job_scores_every_row_once(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    body = "x,label\n" + "".join(f"{i},row {i}\n" for i in range(1, 23))
    job = await submit(client, key, body, "csv")
    assert job["status"] == "queued" and job["total_rows"] == 22 and job["run_as"].startswith("key:")
    assert job["input_name"] == "rows.csv" and job["input_format"] == "csv" and len(job["input_sha256"]) == 64

    done = await wait_for(world, job["id"])
    assert done.status == SUCCEEDED, done
    assert (done.rows_done, done.succeeded, done.failed, done.progress) == (22, 22, 0, 1.0)
    assert done.started_at is not None and done.finished_at is not None
    records = await recorded(world, job["id"])
    assert set(records) == {f"job-{job['id']}-{n}" for n in range(1, 23)}
    for n in range(1, 23):
        p = records[f"job-{job['id']}-{n}"]
        assert p.inputs == {"x": n, "label": f"row {n}"} and p.output == 2 * n and p.outcome == "served"
        assert p.caller == done.run_as and p.caller_kind == "key"
    r = await client.get(f"/v1/jobs/{job['id']}", headers=bearer(key))
    assert r.status_code == 200 and r.json()["status"] == SUCCEEDED and r.json()["rows_done"] == 22
    listed = await client.get("/v1/jobs", headers=bearer(key))
    assert [j["id"] for j in listed.json()] == [job["id"]]
    assert actions(world, job["id"]) == [("batch_job.submit", done.run_as)]


async def test_raw_body_upload_with_a_format(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    body = b'{"x": 1}\n{"x": 2}\n'
    r = await client.post(
        "/v1/services/echo/jobs?format=jsonl&name=two.jsonl", content=body, headers=bearer(key)
    )
    assert r.status_code == 201, r.text
    assert r.json()["input_name"] == "two.jsonl" and r.json()["total_rows"] == 2
    by_type = await client.post(
        "/v1/services/echo/jobs", content=b"x\n3\n", headers={**bearer(key), "Content-Type": "text/csv"}
    )
    assert by_type.status_code == 201 and by_type.json()["input_format"] == "csv"
    assert (await wait_for(world, by_type.json()["id"])).succeeded == 1


async def test_bad_rows_become_dead_letters_with_reasons(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    lines = [
        '{"x": 1}',
        '{"x": "abc"}',
        "not json",
        "",
        '{"x": 4, "extra": 1}',
        "[1, 2]",
        '{"x": 7, "label": "ok"}',
    ]
    job = await submit(client, key, "\n".join(lines) + "\n", "jsonl")
    assert job["total_rows"] == 6  # the blank line is not a row

    done = await wait_for(world, job["id"])
    assert done.status == COMPLETED_WITH_ERRORS
    assert (done.rows_done, done.succeeded, done.failed) == (6, 2, 4)

    r = await client.get(f"/v1/jobs/{job['id']}/dead-letters", headers=bearer(key))
    assert r.status_code == 200, r.text
    letters = {d["row_number"]: d for d in r.json()}
    assert {n: d["error_code"] for n, d in letters.items()} == {
        2: "schema_violation",
        3: "unparsable",
        4: "schema_violation",
        5: "schema_violation",
    }
    assert "/x: 'abc' is not of type 'number'" in letters[2]["reason"] and letters[2]["inputs"] == {
        "x": "abc"
    }
    assert letters[3]["reason"].startswith("row 3 is not valid JSON") and letters[3]["raw"] == "not json\n"
    assert letters[3]["inputs"] is None and letters[3]["request_id"] is None
    assert "'extra' was unexpected" in letters[4]["reason"]
    assert all(d["status"] == "open" and d["attempts"] == 1 and not d["retried"] for d in letters.values())
    assert letters[2]["request_id"] == f"job-{job['id']}-2"

    records = await recorded(world, job["id"])  # refused rows are on record too; the unparsable one is not
    assert {rid: p.outcome for rid, p in records.items()} == {
        f"job-{job['id']}-1": "served",
        f"job-{job['id']}-2": "rejected",
        f"job-{job['id']}-4": "rejected",
        f"job-{job['id']}-5": "rejected",
        f"job-{job['id']}-6": "served",
    }

    r = await client.get(f"/v1/jobs/{job['id']}/dead-letters?format=csv", headers=bearer(key))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert f"job-{job['id']}-dead-letters.csv" in r.headers["content-disposition"]
    exported = list(csv.DictReader(io.StringIO(r.text)))
    assert [e["row"] for e in exported] == ["2", "3", "4", "5"]
    assert exported[0]["error_code"] == "schema_violation" and json.loads(exported[0]["inputs"]) == {
        "x": "abc"
    }
    assert exported[1]["reason"].startswith("row 3 is not valid JSON") and exported[1]["raw"] == "not json\n"

    r = await client.get(f"/v1/jobs/{job['id']}/results", headers=bearer(key))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    results = [json.loads(line) for line in r.text.splitlines()]
    assert [(e["row"], e["outcome"], e["output"]) for e in results] == [
        (1, "served", 2),
        (2, "rejected", None),
        (3, "unparsable", None),
        (4, "rejected", None),
        (5, "rejected", None),
        (6, "served", 14),
    ]
    assert results[0]["confidence"] == 0.9 and results[1]["error_code"] == "schema_violation"
    exports = [a for a in actions(world, job["id"]) if a[0] == "batch_job.export"]
    assert len(exports) == 3  # the JSON listing, the CSV download and the results: payload reads are audited


async def test_csv_cells_take_the_schema_types_and_bad_rows_are_dead_letters(
    client: httpx.AsyncClient, world: World
) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    body = 'x,label\n1.5,a\n2,\n"3","quoted, with comma"\nnope,b\n4\n5,c,extra\n'
    job = await submit(client, key, body, "csv")
    done = await wait_for(world, job["id"])
    assert (done.total_rows, done.succeeded, done.failed) == (6, 3, 3)
    records = await recorded(world, job["id"])
    assert records[f"job-{job['id']}-1"].inputs == {"x": 1.5, "label": "a"}
    assert records[f"job-{job['id']}-2"].inputs == {"x": 2}  # an empty cell is a missing field
    assert records[f"job-{job['id']}-3"].inputs == {"x": 3, "label": "quoted, with comma"}
    r = await client.get(f"/v1/jobs/{job['id']}/dead-letters", headers=bearer(key))
    letters = {d["row_number"]: d for d in r.json()}
    assert (
        letters[4]["error_code"] == "schema_violation"
        and "'nope' is not of type 'number'" in letters[4]["reason"]
    )
    assert (
        letters[5]["error_code"] == "unparsable"
        and letters[5]["reason"] == "row 5 has 1 values; the header has 2 columns"
    )
    assert letters[6]["error_code"] == "unparsable" and letters[6]["raw"] == "5,c,extra\n"


async def test_retry_after_the_cause_is_fixed(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("picky", entrypoint="tests.batchjobs.models:picky")
    body = "".join(json.dumps({"x": x}) + "\n" for x in (-2, -1, 0, 1, 2)) + "oops\n"
    job = await submit(client, key, body, "jsonl", slug="picky")
    first = await wait_for(world, job["id"])
    assert (first.status, first.succeeded, first.failed) == (COMPLETED_WITH_ERRORS, 3, 3)
    r = await client.get(f"/v1/jobs/{job['id']}/dead-letters", headers=bearer(key))
    assert {d["row_number"]: d["error_code"] for d in r.json()} == {
        1: "model_failed",
        2: "model_failed",
        6: "unparsable",
    }
    assert "ValueError: negative x" in r.json()[0]["reason"]

    wrong = await client.post(f"/v1/jobs/{job['id']}/retry", json={"rows": [1, 3]}, headers=bearer(key))
    assert (
        wrong.status_code == 422
        and wrong.json()["code"] == "not_dead_letters"
        and "3" in wrong.json()["detail"]
    )

    # The fix: a version that takes negative numbers goes live.
    with world.ctx.uow() as s:
        registry.register_version(
            s,
            world.actor(),
            world.ctx.store,
            "picky",
            VersionCreate(
                loader="callable",
                entrypoint="tests.factories:double",
                returns_confidence=True,
                make_live=True,
            ),
        )
    r = await client.post(f"/v1/jobs/{job['id']}/retry", headers=bearer(key))
    assert r.status_code == 200, r.text
    assert (
        r.json()["queued"] == [1, 2] and r.json()["skipped"] == [6] and r.json()["job"]["status"] == "queued"
    )

    done = await wait_for(world, job["id"])
    assert (done.status, done.succeeded, done.failed) == (COMPLETED_WITH_ERRORS, 5, 1)
    r = await client.get(f"/v1/jobs/{job['id']}/dead-letters", headers=bearer(key))
    letters = {d["row_number"]: d for d in r.json()}
    assert letters[1]["status"] == "resolved" and letters[1]["attempts"] == 2 and letters[1]["retried"]
    assert letters[1]["request_id"] == f"job-{job['id']}-1-1"
    assert letters[6]["status"] == "open" and letters[6]["attempts"] == 1

    records = await recorded(world, job["id"])  # the failed first try and the retry are both on record
    assert records[f"job-{job['id']}-1"].outcome == "failed" and records[f"job-{job['id']}-1-1"].output == -4
    assert records[f"job-{job['id']}-1-1"].version == 2
    r = await client.get(f"/v1/jobs/{job['id']}/results?format=csv", headers=bearer(key))
    results = list(csv.DictReader(io.StringIO(r.text)))
    assert [(e["row"], e["outcome"], e["output"]) for e in results][:2] == [
        ("1", "served", "-4"),
        ("2", "served", "-2"),
    ]
    assert results[0]["request_id"] == f"job-{job['id']}-1-1" and results[5]["outcome"] == "unparsable"

    again = await client.post(f"/v1/jobs/{job['id']}/retry", headers=bearer(key))
    assert again.status_code == 409 and again.json()["code"] == "nothing_to_retry"
    assert [a for a, _ in actions(world, job["id"]) if a != "batch_job.export"] == [
        "batch_job.submit",
        "batch_job.retry",
    ]


async def test_shed_rows_wait_and_are_tried_again_under_a_new_request_id(
    client: httpx.AsyncClient, world: World
) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("busy", entrypoint="tests.batchjobs.models:shed_first")
    job = await submit(client, key, "".join(f'{{"x": {x}}}\n' for x in range(7)), "jsonl", slug="busy")
    done = await wait_for(world, job["id"])
    assert (done.status, done.succeeded, done.failed) == (SUCCEEDED, 7, 0)  # shedding is not a failure
    records = await recorded(world, job["id"])
    for n in range(1, 8):
        assert records[f"job-{job['id']}-{n}"].outcome == "shed"  # the refusal is on record ...
        assert records[f"job-{job['id']}-{n}-1"].outcome == "served"  # ... and so is the answer, once
    assert len(records) == 14
    with world.ctx.sessions() as s:
        bumped = s.scalars(select(RowAttempt).where(RowAttempt.job_id == job["id"])).all()
        assert sorted((a.row_number, a.attempt) for a in bumped) == [(n, 1) for n in range(1, 8)]
    r = await client.get(f"/v1/jobs/{job['id']}/results", headers=bearer(key))
    results = [json.loads(line) for line in r.text.splitlines()]
    assert all(e["outcome"] == "served" and e["request_id"].endswith("-1") for e in results)


async def test_a_fault_that_outlasts_the_retries_becomes_a_dead_letter(
    client: httpx.AsyncClient, world: World
) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("down", entrypoint="tests.isolation_models:upstream_down")
    job = await submit(client, key, '{"x": 1}\n{"x": 2}\n', "jsonl", slug="down")
    done = await wait_for(world, job["id"])
    assert (done.status, done.succeeded, done.failed) == (COMPLETED_WITH_ERRORS, 0, 2)
    letters = (await client.get(f"/v1/jobs/{job['id']}/dead-letters", headers=bearer(key))).json()
    # the model's own refusal, or the breaker it tripped meanwhile
    assert {d["error_code"] for d in letters} <= {"feature_store_down", "breaker_open"}
    assert all(d["reason"].startswith("gave up after 3 tries: ") for d in letters)


async def test_submit_refuses_bad_files_and_callers(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    analyst = world.user_with_key("ann", ["analyst"])
    world.user("lim", ["consumer"])
    limited = world.key("lim", services=["other"])
    world.service("echo")

    async def post(
        content: bytes, fmt: str | None = "csv", headers: dict[str, str] | None = None
    ) -> httpx.Response:
        url = "/v1/services/echo/jobs" + (f"?format={fmt}" if fmt else "")
        return await client.post(url, content=content, headers=headers or bearer(key))

    cases = [
        (await post(b"x\n1\n", fmt=None), 422, "bad_format"),
        (await post(b"x\n1\n", fmt="xml"), 422, "bad_format"),
        (await post(b""), 422, "bad_file"),
        (await post(b"x\n"), 422, "bad_file"),  # a header and no rows
        (await post(b"x,y\n1,2\n"), 422, "bad_file"),  # y is not in a schema that allows no others
        (await post(b"x,,z\n1,2,3\n"), 422, "bad_file"),
        (await post(b"x,x\n1,2\n"), 422, "bad_file"),
        (await post(b"\n\n", fmt="jsonl"), 422, "bad_file"),
        (
            await client.post(
                "/v1/services/echo/jobs", files={"other": ("a.csv", b"x\n1\n")}, headers=bearer(key)
            ),
            422,
            "no_file",
        ),
        (
            await client.post("/v1/services/nope/jobs?format=csv", content=b"x\n1\n", headers=bearer(key)),
            404,
            "not_found",
        ),
        (await post(b"x\n1\n", headers=bearer(analyst)), 403, "forbidden"),
        (await post(b"x\n1\n", headers=bearer(limited)), 403, "forbidden"),
    ]
    for r, status, code in cases:
        assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert "'y'" in cases[4][0].json()["detail"]
    r = await client.get("/v1/jobs", headers=bearer(key))
    assert r.json() == []


async def test_job_routes_check_the_jobs_service(client: httpx.AsyncClient, world: World) -> None:
    consumer = world.user_with_key("carol", ["consumer"])
    analyst = world.user_with_key("ann", ["analyst"])
    oscar = world.user_with_key("oscar", ["owner"])
    world.user("olivia", ["owner"])
    olivia = world.key("olivia")
    world.service("echo", owner="olivia")
    world.service("oscars", owner="oscar")
    job = await submit(client, consumer, "x\n1\n", "csv")
    await wait_for(world, job["id"])
    for who in (analyst, olivia, consumer):
        assert (await client.get(f"/v1/jobs/{job['id']}", headers=bearer(who))).status_code == 200
        assert [j["id"] for j in (await client.get("/v1/jobs", headers=bearer(who))).json()] == [job["id"]]
    refused = await client.get(f"/v1/jobs/{job['id']}", headers=bearer(oscar))
    assert refused.status_code == 403 and "may not job:read on echo" in refused.json()["detail"]
    assert (await client.get("/v1/jobs", headers=bearer(oscar))).json() == []
    for path in ("dead-letters", "results"):
        r = await client.get(f"/v1/jobs/{job['id']}/{path}", headers=bearer(oscar))
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = await client.post(f"/v1/jobs/{job['id']}/cancel", headers=bearer(oscar))
    assert r.status_code == 403 and "may not service:invoke on echo" in r.json()["detail"]
    r = await client.post(f"/v1/jobs/{job['id']}/cancel", headers=bearer(analyst))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    missing = await client.get("/v1/jobs/nope", headers=bearer(analyst))
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    bad = await client.get("/v1/jobs?status=nope", headers=bearer(analyst))
    assert bad.status_code == 422 and bad.json()["code"] == "bad_status"
    wrong = await client.get(f"/v1/jobs/{job['id']}/results?format=xml", headers=bearer(analyst))
    assert wrong.status_code == 422 and wrong.json()["code"] == "bad_format"
