"""Every route declares its permission, and the permission table is what the app enforces.

The matrix calls every route, as every role, with an API key for a user holding only that role:
a role outside PERMISSIONS[permission] must get 403 `forbidden`; a role inside it must get past
the access check (any status but 401/403, and no 500). Path parameters name real objects, and
bodies are valid where that is easy, so "allowed" means the route really ran. Public routes compute
no principal, so the matrix calls them once; the no-credential test calls them anonymously.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Route

from shipyard.auth import service as auth
from shipyard.auth.permissions import PERMISSIONS, SERVICE_SCOPED
from shipyard.auth.roles import ROLES
from shipyard.web.deps import Require, public
from tests.factories import ECHO_SCHEMA, PASSWORD, World, bearer

# Document uploads embed their passages: the routes below run with the session's embedder.
pytestmark = pytest.mark.usefixtures("corpus")

# FastAPI's own documentation routes and the static files mount: the only routes without a declaration.
UNDECLARED = {
    ("Mount", "/static"),
    ("Route", "/openapi.json"),
    ("Route", "/docs"),
    ("Route", "/docs/oauth2-redirect"),
    ("Route", "/redoc"),
}

# Routes that pass the access check but then refuse API keys by design, with this detail.
REFUSES_API_KEYS = {("POST", "/v1/auth/password"): "only signed-in users have a password to change"}


def walk(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, descending into included routers (FastAPI wraps them in `_IncludedRouter`)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from walk(inner.routes)
        else:
            yield route


Declaration = Require | Callable[[], None]


def declarations(route: BaseRoute) -> list[Declaration]:
    """Every Require(...) and `public` a route declares.

    An APIRoute declares them in its dependency tree. A plain Starlette route (the invoke hot path
    skips FastAPI's dependency solving) declares one as its endpoint's `permission` attribute; the
    matrix below checks that it really enforces it.
    """
    if not isinstance(route, APIRoute):
        declared = getattr(getattr(route, "endpoint", None), "permission", None)
        return [declared] if isinstance(declared, Require) or declared is public else []
    found: list[Declaration] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Require) or dep.call is public:
            found.append(dep.call)
        stack.extend(dep.dependencies)
    return found


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    permission: str | None  # None: public

    @property
    def service_scoped(self) -> bool:
        return "{slug}" in self.path and self.permission in SERVICE_SCOPED


def endpoints(app: FastAPI) -> list[Endpoint]:
    found = []
    for route in walk(app.routes):
        if not isinstance(route, Route) or (type(route).__name__, route.path) in UNDECLARED:
            continue
        (decl,) = declarations(route)  # test_every_route_declares_exactly_one_permission checks this
        permission = decl.permission if isinstance(decl, Require) else None
        for method in sorted((route.methods or set()) - {"HEAD"}):
            found.append(Endpoint(method, route.path, permission))
    return found


def test_every_route_declares_exactly_one_permission(app: FastAPI) -> None:
    offenders: list[str] = []
    undeclared_seen: set[tuple[str, str]] = set()
    declared = 0
    for route in walk(app.routes):
        path = getattr(route, "path", repr(route))
        if (type(route).__name__, path) in UNDECLARED:
            undeclared_seen.add((type(route).__name__, path))
            assert not declarations(route), f"{path} is in UNDECLARED but declares a permission"
            continue
        found = declarations(route)
        methods = sorted(getattr(route, "methods", None) or [])
        if len(found) != 1:
            what = ", ".join(repr(d) if isinstance(d, Require) else "public" for d in found) or "nothing"
            offenders.append(f"{type(route).__name__} {methods} {path}: declares {what}")
            continue
        declared += 1
        if isinstance(found[0], Require):
            assert found[0].permission in PERMISSIONS, path
    assert not offenders, "routes without exactly one Require(...)/public:\n" + "\n".join(offenders)
    assert undeclared_seen == UNDECLARED, "UNDECLARED lists routes the app no longer has"
    assert declared >= 25  # the walk really descended into the included routers


def test_declarations_are_found_in_every_spelling(app: FastAPI) -> None:
    """`dependencies=[Depends(public)]`, a `Require` parameter, and a plain route's endpoint attribute."""
    by_key = {
        (getattr(r, "path", ""), tuple(sorted(getattr(r, "methods", None) or ()))): r
        for r in walk(app.routes)
    }
    assert declarations(by_key[("/v1/auth/login", ("POST",))]) == [public]
    (me,) = declarations(by_key[("/v1/auth/me", ("GET",))])
    assert isinstance(me, Require) and me.permission == "self"
    (invoke,) = declarations(by_key[("/v1/services/{slug}/invoke", ("POST",))])
    assert isinstance(invoke, Require) and invoke.permission == "service:invoke"
    assert declarations(by_key[("/docs", ("GET", "HEAD"))]) == []


# --- the route x role matrix --------------------------------------------------------------------------


@dataclass
class Fixtures:
    """The real objects path parameters name, and a key per role."""

    keys: dict[str, str]
    params: dict[str, str]
    login_user: str


def role_user(role: str) -> str:
    return "olivia" if role == "owner" else f"u-{role}"


async def build(world: World, client: httpx.AsyncClient, roles: tuple[str, ...] = ROLES) -> Fixtures:
    """echo owned by olivia (owner) with version 1, a key per role, a victim user and key, one prediction."""
    keys = {role: world.user_with_key(role_user(role), [role]) for role in {"admin", "owner", *roles}}
    world.service("echo", owner="olivia")
    # Every call is queued for review, so {request_id} also names a review task.
    world.policy("echo", {"review": {"sample_rate": 1.0}})
    world.user_with_key("victim", ["consumer"])
    with world.ctx.uow() as s:
        victim_key_id = auth.list_keys(s, auth.get_user(s, "victim").id)[0].id
    r = await client.post(
        "/v1/services/echo/invoke", json={"inputs": {"x": 1}}, headers=bearer(keys["admin"])
    )
    assert r.status_code == 200, r.text
    request_id = r.json()["request_id"]
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)  # the prediction is in the database
    job = await client.post(  # a batch job on echo, for the /v1/jobs/{job_id} routes
        "/v1/services/echo/jobs?format=jsonl", content=b'{"x": 1}', headers=bearer(keys["admin"])
    )
    assert job.status_code == 201, job.text
    document = await client.post(  # a policy document, for the /v1/documents/{document_id} routes
        "/v1/documents", headers=bearer(keys["admin"]), **document_upload("fixture")
    )
    assert document.status_code == 201, document.text
    alerting = await alert_fixtures(world, client, keys["admin"])
    return Fixtures(
        keys=keys,
        params={
            "slug": "echo",
            "number": "1",
            "key_id": victim_key_id,
            "username": "victim",
            "request_id": request_id,
            "job_id": job.json()["id"],
            "document_id": document.json()["document"]["id"],
            **alerting,
        },
        login_user=role_user("admin"),
    )


async def alert_fixtures(world: World, client: httpx.AsyncClient, admin_key: str) -> dict[str, str]:
    """A channel, a rule that fires on echo's call, its alert, and a silence, for the /v1/alerts routes."""
    headers = bearer(admin_key)
    r = await client.post(
        "/v1/alerts/channels",
        json={"name": "matrix-mail", "kind": "email", "recipients": ["ops@example.com"]},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/v1/alerts/rules",
        json={"name": "matrix-rule", "signal": "call_volume", "threshold": 0, "service": "echo"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    assert "alerts.evaluate" in world.ctx.periodic.run_due()
    (alert,) = (await client.get("/v1/alerts", headers=headers)).json()
    r = await client.post(
        "/v1/alerts/silences", json={"service": "echo", "duration": "1h", "reason": "matrix"}, headers=headers
    )
    assert r.status_code == 201, r.text
    return {
        "alert_id": alert["id"],
        "rule_name": "matrix-rule",
        "channel_name": "matrix-mail",
        "silence_id": r.json()["id"],
    }


def document_upload(tag: str) -> dict[str, Any]:
    """A small policy document, different for each tag (so none is a duplicate of another)."""
    text = f"# Policy {tag}\n\nPrior authorization is required for service {tag} under plan {tag}.\n"
    meta = {"insurer": "Matrix Health", "topic": "matrix", "effective_date": "2024-01-01"}
    return {"files": {"file": (f"{tag}.md", text.encode())}, "data": meta}


def request_for(ep: Endpoint, fx: Fixtures, tag: str) -> dict[str, Any]:
    """Path with real objects filled in, and a body that passes validation (unique per `tag`)."""
    unknown = set(re.findall(r"{(\w+)}", ep.path)) - fx.params.keys()
    assert not unknown, f"{ep.method} {ep.path}: add real objects for path parameters {sorted(unknown)}"
    url = re.sub(r"{(\w+)}", lambda m: fx.params[m.group(1)], ep.path)
    tag = re.sub(r"[^a-z0-9]", "-", tag.lower())
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/v1/services/{slug}/invoke"): {"json": {"inputs": {"x": 1}}},
        ("POST", "/v1/services/{slug}/jobs"): {"content": b'{"x": 2}', "params": {"format": "jsonl"}},
        ("POST", "/v1/services"): {
            "json": {"slug": f"svc-{tag}", "name": "Made in the matrix", "input_schema": ECHO_SCHEMA}
        },
        ("PATCH", "/v1/services/{slug}"): {"json": {"description": f"changed by {tag}"}},
        ("POST", "/v1/services/{slug}/pause"): {"json": {"reason": f"matrix test ({tag})"}},
        ("POST", "/v1/services/{slug}/versions"): {
            "data": {
                "meta": json.dumps(
                    {"loader": "callable", "entrypoint": "tests.factories:double", "returns_confidence": True}
                )
            }
        },
        ("POST", "/v1/auth/login"): {"json": {"username": fx.login_user, "password": PASSWORD}},
        ("POST", "/login"): {"data": {"username": fx.login_user, "password": PASSWORD}},
        ("POST", "/v1/auth/password"): {
            "json": {"current_password": PASSWORD, "new_password": "a brand new password"}
        },
        ("POST", "/v1/users"): {"json": {"username": f"made-by-{tag}", "roles": ["consumer"]}},
        ("PATCH", "/v1/users/{username}"): {"json": {"display_name": f"Victim ({tag})"}},
        ("POST", "/v1/keys"): {"json": {"name": f"made by {tag}", "roles": [tag]}},
        # console forms (an API key needs no CSRF token, so they run like the JSON routes)
        ("POST", "/users"): {"data": {"username": f"page-{tag}", "roles": ["consumer"]}},
        ("POST", "/users/{username}/roles"): {"data": {"roles": ["consumer"]}},
        ("POST", "/keys"): {"data": {"name": f"page {tag}", "roles": [tag]}},
        ("POST", "/services/{slug}/pause"): {"data": {"reason": f"matrix test ({tag})"}},
        ("POST", "/v1/documents"): document_upload(tag),
        ("POST", "/documents"): document_upload(f"page-{tag}"),
        ("POST", "/v1/documents/{document_id}/withdraw"): {"json": {"reason": f"matrix test ({tag})"}},
        ("POST", "/documents/{document_id}/withdraw"): {"data": {"reason": f"matrix test ({tag})"}},
        ("POST", "/v1/chat/completions"): {
            "json": {"model": "echo", "messages": [{"role": "user", "content": tag}]}
        },
        ("POST", "/ask"): {"data": {"question": f"Does {tag} need prior authorization?"}},
        ("POST", "/v1/services/{slug}/versions/{number}/reference"): {
            "content": "".join(f'{{"x": {i}, "label": "{tag}"}}\n' for i in range(60)).encode(),
            "params": {"format": "jsonl"},
        },
        ("POST", "/v1/services/{slug}/versions/{number}/reference/capture"): {
            "json": {"start": "2020-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z"}
        },
        ("PUT", "/v1/services/{slug}/drift/thresholds"): {"json": {"ks_statistic": 0.02}},
        ("POST", "/v1/alerts/rules"): {
            "json": {"name": f"rule-{tag}", "signal": "error_rate", "threshold": 0.5, "service": "echo"}
        },
        ("PATCH", "/v1/alerts/rules/{rule_name}"): {"json": {"description": f"changed by {tag}"}},
        ("POST", "/v1/alerts/channels"): {
            "json": {"name": f"mail-{tag}", "kind": "email", "recipients": [f"{tag}@example.com"]}
        },
        ("PATCH", "/v1/alerts/channels/{channel_name}"): {"json": {"recipients": [f"{tag}@example.com"]}},
        ("POST", "/v1/alerts/silences"): {"json": {"service": "echo", "duration": "1h", "reason": tag}},
        ("POST", "/alerts/silences"): {"data": {"service": "echo", "duration": "1h", "reason": tag}},
        ("POST", "/alerts/rules/{rule_name}/enabled"): {"data": {"enabled": "true"}},
        # the first allowed role decides; the others get 409 review_decided, past the access check
        ("POST", "/v1/reviews/{request_id}/decision"): {"json": {"action": "approve"}},
    }
    kwargs = bodies.get((ep.method, ep.path))
    if kwargs is None:
        kwargs = {} if ep.method in {"GET", "DELETE"} else {"json": {}}
    return {"method": ep.method, "url": url, **kwargs}


def problem(r: httpx.Response) -> dict[str, Any]:
    try:
        body = r.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def test_route_role_matrix(app: FastAPI, client: httpx.AsyncClient, world: World) -> None:
    fx = await build(world, client)
    eps = endpoints(app)
    assert {ep.permission for ep in eps} >= {"service:invoke", "service:read", "user:manage", "self", None}
    failures: list[str] = []
    checked = 0
    for role in ROLES:
        headers = bearer(fx.keys[role])
        for ep in eps:
            if ep.permission is None and role != ROLES[0]:
                continue  # a public route computes no principal; once is enough (sign-in hashes are slow)
            client.cookies.clear()  # the public sign-in routes set a session cookie; use the key alone
            r = await client.request(**request_for(ep, fx, role), headers=headers)
            checked += 1
            body = problem(r)
            where = f"{role:<9} {ep.method:<6} {ep.path} ({ep.permission or 'public'})"
            if ep.permission is not None and role not in PERMISSIONS[ep.permission]:
                if (r.status_code, body.get("code")) != (403, "forbidden") or (
                    f"may not {ep.permission}" not in body.get("detail", "")
                ):
                    failures.append(f"{where}: expected 403 forbidden, got {r.status_code} {r.text[:200]}")
            elif (ep.method, ep.path) in REFUSES_API_KEYS:
                expected = REFUSES_API_KEYS[(ep.method, ep.path)]
                if r.status_code != 403 or body.get("detail") != expected:
                    failures.append(f"{where}: expected 403 {expected!r}, got {r.status_code} {r.text[:200]}")
            elif r.status_code in (401, 403, 500):
                failures.append(f"{where}: allowed, but got {r.status_code} {r.text[:200]}")
    assert not failures, f"{len(failures)} of {checked} calls wrong:\n" + "\n".join(failures)
    # The allowed calls really ran: the admin's and the owner's writes landed.
    r = await client.get("/v1/services", headers=bearer(fx.keys["admin"]))
    assert {"svc-admin", "svc-owner"} <= {s["slug"] for s in r.json()}
    assert {s["owner"] for s in r.json() if s["slug"] == "svc-owner"} == {"olivia"}
    r = await client.get("/v1/services/echo/versions", headers=bearer(fx.keys["admin"]))
    assert len(r.json()) == 3  # version 1, plus one each from admin and owner
    r = await client.get("/v1/users", headers=bearer(fx.keys["admin"]))
    assert {"made-by-admin", "page-admin"} <= {u["username"] for u in r.json()}
    r = await client.get("/v1/keys", params={"all_users": True}, headers=bearer(fx.keys["admin"]))
    made = {k["name"] for k in r.json()}
    assert {f"made by {role}" for role in ROLES} <= made and {f"page {role}" for role in ROLES} <= made


async def test_no_credential_is_401_on_every_non_public_route(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    fx = await build(world, client, roles=())
    failures = []
    for ep in endpoints(app):
        client.cookies.clear()  # the public sign-in routes set a session cookie
        r = await client.request(**request_for(ep, fx, "anonymous"))
        if ep.permission is None:
            if r.status_code in (401, 403):
                failures.append(f"public {ep.method} {ep.path}: {r.status_code} {r.text[:200]}")
        elif (r.status_code, problem(r).get("code")) != (401, "unauthenticated") or (
            r.headers.get("www-authenticate") != "Bearer"
        ):
            failures.append(
                f"{ep.method} {ep.path}: expected 401 unauthenticated, got {r.status_code} {r.text}"
            )
    assert not failures, "\n".join(failures)


async def test_owner_of_another_service_is_refused_on_service_scoped_routes(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    fx = await build(world, client, roles=())
    oscar = world.user_with_key("oscar", ["owner"])
    world.service("oscars", owner="oscar")
    scoped = [ep for ep in endpoints(app) if ep.service_scoped]
    assert len(scoped) >= 10
    failures = []
    for ep in scoped:
        r = await client.request(**request_for(ep, fx, "oscar"), headers=bearer(oscar))
        body = problem(r)
        if (r.status_code, body.get("code")) != (403, "forbidden") or (
            f"may not {ep.permission} on echo" not in body.get("detail", "")
        ):
            failures.append(
                f"{ep.method} {ep.path}: expected 403 forbidden, got {r.status_code} {r.text[:200]}"
            )
    assert not failures, "\n".join(failures)
    # The same key is fine on oscar's own service, and olivia's key on echo.
    r = await client.get("/v1/services/oscars", headers=bearer(oscar))
    assert r.status_code == 200 and r.json()["owner"] == "oscar"
    r = await client.post("/v1/services/oscars/invoke", json={"inputs": {"x": 2}}, headers=bearer(oscar))
    assert r.status_code == 200 and r.json()["output"] == 4
    r = await client.get("/v1/services/echo", headers=bearer(fx.keys["owner"]))
    assert r.status_code == 200 and r.json()["owner"] == "olivia"


async def test_key_limited_to_other_services_is_refused_on_echo(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    fx = await build(world, client, roles=())
    world.user("limited", ["admin"])
    limited = world.key("limited", services=["other"])
    routes = [ep for ep in endpoints(app) if ep.path.startswith("/v1/services/{slug}")]
    assert len(routes) >= 10
    failures = []
    for ep in routes:
        r = await client.request(**request_for(ep, fx, "limited"), headers=bearer(limited))
        body = problem(r)
        if (r.status_code, body.get("code")) != (403, "forbidden") or (
            "limited to other services" not in body.get("detail", "")
        ):
            failures.append(
                f"{ep.method} {ep.path}: expected 403 forbidden, got {r.status_code} {r.text[:200]}"
            )
    assert not failures, "\n".join(failures)
    # The limit admits the service it names (which does not exist: 404, not 403), and routes with no service.
    r = await client.get("/v1/services/other", headers=bearer(limited))
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = await client.get("/v1/auth/me", headers=bearer(limited))
    assert r.status_code == 200 and r.json()["services"] == ["other"]
    # The same user's unlimited key still reaches echo.
    r = await client.get("/v1/services/echo", headers=bearer(world.key("limited")))
    assert r.status_code == 200
