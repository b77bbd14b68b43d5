"""OIDC bearer tokens, verified against a real local identity provider (discovery document + JWKS)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from shipyard.auth.oidc import OIDCIdentity, OIDCVerifier
from shipyard.auth.roles import ROLES
from shipyard.core.clock import FrozenClock
from shipyard.core.config import OIDCSettings
from shipyard.core.errors import Unauthenticated, Unavailable

DISCOVERY = "/.well-known/openid-configuration"
START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        algorithm = RSAAlgorithm if self.alg.startswith("RS") else ECAlgorithm
        return {**algorithm.to_jwk(public, as_dict=True), "kid": self.kid, "alg": self.alg, "use": "sig"}

    def public_pem(self) -> bytes:
        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    def rsa_key() -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    return {
        "k1": SigningKey("k1", "RS256", rsa_key()),
        "k2": SigningKey("k2", "RS256", rsa_key()),
        "rogue": SigningKey("rogue", "RS256", rsa_key()),
        "e1": SigningKey("e1", "ES256", ec.generate_private_key(ec.SECP256R1())),
    }


@dataclass
class IdP:
    """State of the local identity provider; the handler thread reads it, the test changes it."""

    issuer: str = ""
    keys: list[dict[str, Any]] = field(default_factory=list)
    down: set[str] = field(default_factory=set)  # paths answered with 503
    requests: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    idp: IdP

    def do_GET(self) -> None:
        idp = self.idp
        with idp.lock:
            idp.requests[self.path] += 1
        if self.path in idp.down:
            self._send(503, {"error": "maintenance"})
        elif self.path == DISCOVERY:
            self._send(200, {"issuer": idp.issuer, "jwks_uri": f"{idp.issuer}/jwks"})
        elif self.path == "/jwks":
            self._send(200, {"keys": list(idp.keys)})
        else:
            self._send(404, {"error": "not found"})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass


@contextmanager
def serve_idp(keys: list[dict[str, Any]]) -> Iterator[IdP]:
    """A real HTTP identity provider on a free local port: discovery document and JWKS."""
    state = IdP(keys=keys)
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"idp": state}))
    server.daemon_threads = True
    state.issuer = f"http://127.0.0.1:{server.server_port}"
    # A short poll interval keeps shutdown() quick; the default makes every teardown wait 0.5 s.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def idp(keys: dict[str, SigningKey]) -> Iterator[IdP]:
    with serve_idp([keys["k1"].jwk(), keys["e1"].jwk()]) as state:
        yield state


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield http


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


Make = Callable[..., OIDCVerifier]
Mint = Callable[..., str]


@pytest.fixture
def make(idp: IdP, client: httpx.AsyncClient, clock: FrozenClock) -> Make:
    def make(**settings: Any) -> OIDCVerifier:
        return OIDCVerifier(
            OIDCSettings(**{"issuer": idp.issuer, "audience": "shipyard", **settings}), client, clock
        )

    return make


@pytest.fixture
def mint(idp: IdP, keys: dict[str, SigningKey], clock: FrozenClock) -> Mint:
    def mint(key: str = "k1", *, kid: str | None = None, **claims: Any) -> str:
        signer = keys[key]
        now = int(clock.now().timestamp())
        payload = {
            "iss": idp.issuer,
            "aud": "shipyard",
            "sub": "u-1",
            "preferred_username": "ada",
            "roles": ["analyst"],
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        payload = {name: value for name, value in payload.items() if value is not None}
        return jwt.encode(payload, signer.private, algorithm=signer.alg, headers={"kid": kid or signer.kid})

    return mint


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


async def rejected(verifier: OIDCVerifier, token: str, problem: str) -> Unauthenticated:
    with pytest.raises(Unauthenticated, match=problem) as caught:
        await verifier.verify(token)
    assert caught.value.code == "unauthenticated"
    return caught.value


# --- valid tokens and roles -------------------------------------------------------------------------


async def test_valid_token_gives_identity_and_roles(make: Make, mint: Mint, idp: IdP) -> None:
    identity = await make().verify(mint(roles=["analyst", "reviewer", "not-a-role"]))
    assert isinstance(identity, OIDCIdentity)
    assert identity.username == "ada"
    assert identity.roles == {"analyst", "reviewer"}
    assert identity.claims["sub"] == "u-1"
    assert identity.expires_at == datetime.fromtimestamp(START.timestamp() + 300, UTC)
    assert idp.requests == {DISCOVERY: 1, "/jwks": 1}


async def test_ec_key_and_explicit_jwks_url(make: Make, mint: Mint, idp: IdP) -> None:
    identity = await make(jwks_url=f"{idp.issuer}/jwks").verify(mint("e1"))
    assert identity.roles == {"analyst"}
    assert idp.requests == {"/jwks": 1}  # no discovery when the JWKS URL is configured


async def test_role_map_maps_idp_groups(make: Make, mint: Mint) -> None:
    verifier = make(role_map={"ml-admins": ["admin", "operator"], "readers": ["analyst"]})
    identity = await verifier.verify(mint(roles=["ml-admins", "unrelated", "analyst"]))
    # With a role_map, only mapped values count, even ones spelled like a Shipyard role.
    assert identity.roles == {"admin", "operator"}


async def test_nested_dotted_roles_claim(make: Make, mint: Mint) -> None:
    verifier = make(roles_claim="realm_access.roles", role_map={"ml-review": ["reviewer"]})
    token = mint(roles=None, realm_access={"roles": ["offline_access", "ml-review"]})
    assert (await verifier.verify(token)).roles == {"reviewer"}


async def test_namespaced_claim_with_dots_in_its_name(make: Make, mint: Mint) -> None:
    verifier = make(roles_claim="https://shipyard.example/roles")
    token = mint(roles=None, **{"https://shipyard.example/roles": ["owner"]})
    assert (await verifier.verify(token)).roles == {"owner"}


async def test_string_roles_claim_split_on_spaces_and_commas(make: Make, mint: Mint) -> None:
    identity = await make().verify(mint(roles="consumer analyst,reviewer , bogus"))
    assert identity.roles == {"consumer", "analyst", "reviewer"}


def test_map_roles_directly(make: Make) -> None:
    verifier = make(roles_claim="groups", role_map={"sre": ["operator"], "leads": ["approver", "reviewer"]})
    assert verifier.map_roles({"groups": "sre leads"}) == {"operator", "approver", "reviewer"}
    assert verifier.map_roles({"groups": ["unknown"]}) == frozenset()
    assert verifier.map_roles({"groups": 42}) == frozenset()
    assert verifier.map_roles({}) == frozenset()
    assert set(ROLES) == {"admin", "owner", "approver", "reviewer", "operator", "analyst", "consumer"}


async def test_no_shipyard_role_is_rejected(make: Make, mint: Mint) -> None:
    await rejected(make(), mint(roles=["guest", "viewer"]), "no Shipyard role")
    await rejected(make(role_map={"ml": ["analyst"]}), mint(roles=["analyst"]), "no Shipyard role")


async def test_username_falls_back_to_sub(make: Make, mint: Mint) -> None:
    assert (await make().verify(mint(preferred_username=None))).username == "u-1"
    await rejected(make(), mint(preferred_username=None, sub=None), "username")


def test_unknown_role_in_role_map_is_a_configuration_error(make: Make) -> None:
    with pytest.raises(ValueError, match="superuser, viewer"):
        make(role_map={"a": ["admin", "superuser"], "b": ["viewer"]})


@pytest.mark.parametrize("algorithm", ["HS256", "none"])
def test_symmetric_or_no_algorithm_cannot_be_configured(make: Make, algorithm: str) -> None:
    with pytest.raises(ValueError, match=algorithm):
        make(algorithms=["RS256", algorithm])


def test_issuer_is_required(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    with pytest.raises(ValueError, match="issuer"):
        OIDCVerifier(OIDCSettings(), client, clock)


# --- rejected tokens --------------------------------------------------------------------------------


async def test_expired_token_rejected_after_leeway(make: Make, mint: Mint, clock: FrozenClock) -> None:
    verifier = make(leeway_seconds=30)
    token = mint(exp=int(START.timestamp()) + 60)
    await verifier.verify(token)
    clock.advance(seconds=60 + 29)  # past exp, within leeway: the cache entry has lapsed, re-verified
    assert (await verifier.verify(token)).username == "ada"
    clock.advance(seconds=2)
    await rejected(verifier, token, "expired at 2026-01-01T00:01:00")


async def test_token_without_exp_rejected(make: Make, mint: Mint) -> None:
    await rejected(make(), mint(exp=None), "no exp claim")


async def test_not_yet_valid_token(make: Make, mint: Mint, clock: FrozenClock) -> None:
    verifier = make(leeway_seconds=30)
    token = mint(nbf=int(START.timestamp()) + 120)
    await rejected(verifier, token, "not yet valid")
    clock.advance(seconds=91)  # within leeway of nbf
    assert (await verifier.verify(token)).username == "ada"


async def test_token_issued_in_the_future(make: Make, mint: Mint) -> None:
    await rejected(make(), mint(iat=int(START.timestamp()) + 3600), "issued in the future")


async def test_wrong_issuer(make: Make, mint: Mint) -> None:
    await rejected(make(), mint(iss="https://evil.example"), "issuer 'https://evil.example'")


async def test_audience(make: Make, mint: Mint) -> None:
    await rejected(make(), mint(aud="other-app"), "audience 'other-app' does not include 'shipyard'")
    await rejected(make(), mint(aud=None), "audience None")
    assert (await make().verify(mint(aud=["other-app", "shipyard"]))).username == "ada"
    assert (await make(audience=None).verify(mint(aud="anything"))).username == "ada"


async def test_tampered_payload_fails_signature(make: Make, mint: Mint) -> None:
    header, _, signature = mint(roles=["consumer"]).split(".")
    forged = {**claims_of(mint()), "roles": ["admin"]}
    token = f"{header}.{b64(json.dumps(forged).encode())}.{signature}"
    await rejected(make(), token, "signature is invalid")


async def test_corrupted_signature(make: Make, mint: Mint) -> None:
    token = mint()
    flipped = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    await rejected(make(), flipped, "signature is invalid")


async def test_key_not_in_jwks(make: Make, mint: Mint) -> None:
    verifier = make()
    # A foreign key claiming a published kid fails the signature; under its own kid it is unknown.
    await rejected(verifier, mint("rogue", kid="k1"), "signature is invalid")
    await rejected(verifier, mint("rogue"), "key id 'rogue' is unknown")


async def test_alg_none_rejected(make: Make, mint: Mint) -> None:
    token = unsigned({"alg": "none", "typ": "JWT", "kid": "k1"}, claims_of(mint(roles=["admin"]))) + "."
    await rejected(make(), token, "algorithm 'none' is not accepted")


async def test_hs256_with_public_key_as_secret_rejected(
    make: Make, mint: Mint, keys: dict[str, SigningKey]
) -> None:
    # The classic algorithm-confusion attack: HMAC keyed with the RSA public key everyone can fetch.
    signing_input = unsigned({"alg": "HS256", "typ": "JWT", "kid": "k1"}, claims_of(mint(roles=["admin"])))
    mac = hmac.new(keys["k1"].public_pem(), signing_input.encode(), hashlib.sha256).digest()
    await rejected(make(), f"{signing_input}.{b64(mac)}", "algorithm 'HS256' is not accepted")


async def test_algorithm_must_match_the_key(make: Make, mint: Mint) -> None:
    # An ES256 token naming the RSA key k1 must not be checked with k1 under another algorithm.
    await rejected(make(), mint("e1", kid="k1"), "does not match key 'k1'")


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "ey.ey.ey", "tøken"])
async def test_malformed_tokens(make: Make, token: str) -> None:
    await rejected(make(), token, "malformed")


# --- key rotation, refetch limits, caching ----------------------------------------------------------


async def test_key_rotation_refetches_once(
    make: Make, mint: Mint, idp: IdP, keys: dict[str, SigningKey], clock: FrozenClock
) -> None:
    verifier = make()
    await verifier.verify(mint("k1"))
    assert idp.requests["/jwks"] == 1
    idp.keys = [keys["k2"].jwk()]  # the IdP rotates: k1 retired, k2 published
    clock.advance(seconds=5)
    # Concurrent tokens with the new kid share one refetch: later ones wait for the fetch in flight.
    tokens = [mint("k2", jti=str(n)) for n in range(10)]
    identities = await asyncio.gather(*(verifier.verify(t) for t in tokens))
    assert {i.username for i in identities} == {"ada"}
    assert idp.requests["/jwks"] == 2
    # The retired key is gone after the refetch (a new token, so the verified-token cache is not hit).
    await rejected(verifier, mint("k1", jti="new"), "key id 'k1' is unknown")
    assert idp.requests["/jwks"] == 2


async def test_unknown_kid_refetch_is_rate_limited(
    make: Make, mint: Mint, idp: IdP, clock: FrozenClock
) -> None:
    verifier = make()
    await verifier.verify(mint())
    assert idp.requests["/jwks"] == 1
    for n in range(20):
        await rejected(verifier, mint("rogue", kid=f"junk-{n}"), f"key id 'junk-{n}' is unknown")
    junk = [mint("rogue", kid=f"burst-{n}") for n in range(20)]
    results = await asyncio.gather(*(verifier.verify(t) for t in junk), return_exceptions=True)
    assert all(isinstance(r, Unauthenticated) for r in results)
    assert idp.requests["/jwks"] == 2
    clock.advance(seconds=29)
    await rejected(verifier, mint("rogue", kid="later"), "unknown")
    assert idp.requests["/jwks"] == 2
    clock.advance(seconds=2)  # 31 s since the last refetch: one more is allowed
    await rejected(verifier, mint("rogue", kid="much-later"), "unknown")
    await rejected(verifier, mint("rogue", kid="and-again"), "unknown")
    assert idp.requests["/jwks"] == 3
    assert idp.requests[DISCOVERY] == 1


async def test_concurrent_cold_start_fetches_once(make: Make, mint: Mint, idp: IdP) -> None:
    verifier = make()
    tokens = [mint(jti=str(n)) for n in range(25)]
    identities = await asyncio.gather(*(verifier.verify(t) for t in tokens))
    assert {i.username for i in identities} == {"ada"}
    assert idp.requests == {DISCOVERY: 1, "/jwks": 1}


async def test_jwks_cached_for_configured_seconds(
    make: Make, mint: Mint, idp: IdP, clock: FrozenClock
) -> None:
    verifier = make(jwks_cache_seconds=60)
    await verifier.verify(mint(jti="1"))
    clock.advance(seconds=59)
    await verifier.verify(mint(jti="2"))
    assert idp.requests["/jwks"] == 1
    clock.advance(seconds=2)
    await verifier.verify(mint(jti="3"))
    assert idp.requests["/jwks"] == 2


async def test_verified_token_cache_skips_fetch_and_verification(
    make: Make, mint: Mint, idp: IdP, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded = 0
    real_decode = jwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        nonlocal decoded
        decoded += 1
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    verifier = make()
    token = mint()
    first = await verifier.verify(token)
    idp.keys = []  # a cache hit must not even look at the keys
    for _ in range(5):
        assert await verifier.verify(token) is first
    assert decoded == 1
    assert idp.requests == {DISCOVERY: 1, "/jwks": 1}


async def test_verified_token_cache_is_bounded(
    make: Make, mint: Mint, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_decode = jwt.decode

    def counting_decode(token: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    verifier = make()
    verifier.token_cache_size = 2
    a, b, c = mint(jti="a"), mint(jti="b"), mint(jti="c")
    for token in (a, b, a, c, a, b):  # a is kept fresh; adding c evicts b
        await verifier.verify(token)
    assert calls == [a, b, c, b]


# --- identity provider unavailable ------------------------------------------------------------------


async def test_discovery_down_is_unavailable(make: Make, mint: Mint, idp: IdP) -> None:
    idp.down = {DISCOVERY}
    with pytest.raises(Unavailable, match="discovery document.*503") as caught:
        await make().verify(mint())
    assert caught.value.code == "unavailable"


async def test_jwks_down_is_unavailable_and_recovers(make: Make, mint: Mint, idp: IdP) -> None:
    verifier = make()
    idp.down = {"/jwks"}
    token = mint()
    results = await asyncio.gather(*(verifier.verify(token) for _ in range(10)), return_exceptions=True)
    assert all(isinstance(r, Unavailable) and "JWKS" in r.detail for r in results)
    assert idp.requests["/jwks"] == 1  # callers queued on the failed fetch share its outcome
    idp.down = set()
    assert (await verifier.verify(token)).username == "ada"


async def test_idp_not_listening_is_unavailable(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    verifier = OIDCVerifier(OIDCSettings(issuer=f"http://127.0.0.1:{port}"), client, clock)
    token = unsigned({"alg": "RS256", "kid": "k1"}, {"sub": "x"}) + ".c2ln"
    with pytest.raises(Unavailable, match="cannot fetch the identity provider's discovery document"):
        await verifier.verify(token)


async def test_jwks_without_usable_keys_is_unavailable(make: Make, mint: Mint, idp: IdP) -> None:
    idp.keys = [{"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"}, {"kty": "nope"}]
    with pytest.raises(Unavailable, match="no usable signing keys"):
        await make().verify(mint())


async def test_discovery_for_another_issuer_is_refused(
    idp: IdP, mint: Mint, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    verifier = OIDCVerifier(OIDCSettings(issuer=f"{idp.issuer}/"), client, clock)
    with pytest.raises(Unavailable, match="names issuer"):
        await verifier.verify(mint())
