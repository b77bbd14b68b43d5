"""The console's batch job pages: upload, live progress over htmx, dead letters, cancel and retry."""

from __future__ import annotations

import html
import re

import httpx

from shipyard.batchjobs.schemas import COMPLETED_WITH_ERRORS, SUCCEEDED
from shipyard.registry import service as registry
from shipyard.registry.schemas import VersionCreate
from tests.batchjobs import models
from tests.batchjobs.helpers import submit, wait_for
from tests.factories import PASSWORD, World, bearer

HTML = {"Accept": "text/html"}
FRAGMENT = {"Accept": "text/html", "HX-Request": "true"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def sign_in(client: httpx.AsyncClient, username: str) -> str:
    r = await client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 303, r.text
    page = await client.get("/jobs", headers=HTML)
    match = _CSRF.search(page.text)
    assert page.status_code == 200 and match, page.text
    return match.group(1)


async def test_upload_a_file_and_follow_it(client: httpx.AsyncClient, world: World) -> None:
    world.user("ada", ["operator"])
    world.service("echo")
    world.service("other")
    token = await sign_in(client, "ada")

    page = await client.get("/jobs", headers=HTML)
    assert '<a href="/jobs" aria-current="page">Jobs</a>' in page.text
    assert 'enctype="multipart/form-data"' in page.text and '<option value="echo">' in page.text
    assert "No batch jobs yet." in page.text

    refused = await client.post("/jobs", data={"service": "echo"})
    assert refused.status_code == 403 and refused.json()["code"] == "csrf"
    bad = await client.post(
        "/jobs",
        data={"service": "echo", "csrf_token": token},
        files={"file": ("a.csv", b"x,y\n1,2\n")},
        headers=HTML,
    )
    assert bad.status_code == 422 and "not properties of the input schema" in html.unescape(bad.text)

    body = b"x\n" + b"".join(b"%d\n" % i for i in range(8)) + b"oops\n"
    r = await client.post(
        "/jobs", data={"service": "echo", "csrf_token": token}, files={"file": ("scores.csv", body)}
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?flash=submitted")
    job_id = r.headers["location"].split("/")[2].split("?")[0]

    done = await wait_for(world, job_id)
    assert (done.status, done.succeeded, done.failed) == (COMPLETED_WITH_ERRORS, 8, 1)
    page = await client.get(f"/jobs/{job_id}?flash=submitted", headers=HTML)
    text = html.unescape(page.text)
    assert page.status_code == 200 and "Submitted. The job is queued" in text
    assert '<progress max="9" value="9">' in text and "9 / 9 rows" in text
    assert 'hx-trigger="every 2s"' not in text  # finished: the page stops polling
    assert 'data-row="9"' in text and "'oops' is not of type 'number'" in text
    assert f'href="/v1/jobs/{job_id}/dead-letters?format=csv"' in text and 'id="retry"' in text
    assert 'id="cancel"' not in text  # a finished job cannot be cancelled

    export = await client.get(f"/v1/jobs/{job_id}/dead-letters?format=csv")  # the link works with the cookie
    assert export.status_code == 200 and "schema_violation" in export.text

    listed = await client.get("/jobs", headers=HTML)
    assert f'data-job="{job_id}"' in listed.text and "completed with errors" in listed.text


async def test_progress_polls_while_running_and_the_buttons_act(
    client: httpx.AsyncClient, world: World
) -> None:
    world.user("ada", ["operator"])
    key = world.user_with_key("carol", ["consumer"])
    world.service("gated", entrypoint="tests.batchjobs.models:gated", timeout_ms=30_000)
    token = await sign_in(client, "ada")
    job = await submit(client, key, "".join(f'{{"x": {x}}}\n' for x in range(30)), "jsonl", slug="gated")

    page = await client.get(f"/jobs/{job['id']}", headers=HTML)
    assert f'hx-get="/jobs/{job["id"]}" hx-trigger="every 2s"' in page.text and 'id="cancel"' in page.text
    fragment = await client.get(f"/jobs/{job['id']}", headers=FRAGMENT)
    assert 'id="job-progress"' in fragment.text
    assert "<html" not in fragment.text and "<progress" in fragment.text
    rows = await client.get("/jobs", headers=FRAGMENT)
    assert rows.text.lstrip().startswith('<div id="job-rows" hx-get="/jobs" hx-trigger="every 2s"')

    r = await client.post(f"/jobs/{job['id']}/cancel", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == f"/jobs/{job['id']}?flash=cancelled"
    models.GATE.set()
    cancelled = await wait_for(world, job["id"])
    assert cancelled.status == "cancelled"
    again = await client.post(f"/jobs/{job['id']}/cancel", data={"csrf_token": token}, headers=HTML)
    assert again.status_code == 409 and "already cancelled" in again.text

    rows = await client.get("/jobs", headers=FRAGMENT)
    assert "hx-trigger" not in rows.text.split(">", 1)[0]  # nothing active: the table stops polling


async def test_retry_from_the_job_page(client: httpx.AsyncClient, world: World) -> None:
    world.user("ada", ["operator"])
    key = world.user_with_key("carol", ["consumer"])
    world.service("picky", entrypoint="tests.batchjobs.models:picky")
    token = await sign_in(client, "ada")
    job = await submit(client, key, '{"x": -1}\n{"x": 1}\n', "jsonl", slug="picky")
    await wait_for(world, job["id"])
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
    r = await client.post(f"/jobs/{job['id']}/retry", headers={"X-CSRF-Token": token})
    assert r.status_code == 303 and r.headers["location"].endswith("?flash=retrying")
    done = await wait_for(world, job["id"])
    assert (done.status, done.succeeded, done.failed) == (SUCCEEDED, 2, 0)
    page = await client.get(f"/jobs/{job['id']}", headers=HTML)
    assert '<span class="badge ok">resolved</span>' in page.text and 'id="retry"' not in page.text


async def test_pages_show_only_jobs_of_services_one_may_read(client: httpx.AsyncClient, world: World) -> None:
    world.user("oscar", ["owner"])
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    world.service("oscars", owner="oscar")
    job = await submit(client, key, "x\n1\n", "csv")
    await wait_for(world, job["id"])
    await sign_in(client, "oscar")
    listed = await client.get("/jobs", headers=HTML)
    assert job["id"] not in listed.text and '<option value="oscars">' in listed.text
    assert '<option value="echo">' not in listed.text
    page = await client.get(f"/jobs/{job['id']}", headers=HTML)
    assert page.status_code == 403 and "may not job:read on echo" in html.unescape(page.text)
    r = await client.get("/v1/jobs", headers=bearer(key))
    assert [j["id"] for j in r.json()] == [job["id"]]
