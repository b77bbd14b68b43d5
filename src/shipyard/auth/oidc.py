"""SSO by OIDC bearer tokens: JWTs checked against the identity provider's JWKS, mapped to Shipyard roles."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
from jwt.algorithms import get_default_algorithms
from jwt.types import Options

from shipyard.auth.roles import ROLES
from shipyard.core.clock import Clock
from shipyard.core.config import OIDCSettings
from shipyard.core.errors import Unauthenticated, Unavailable

log = logging.getLogger(__name__)

# Tokens with made-up key ids must not turn into a stream of JWKS requests to the identity provider.
REFETCH_INTERVAL = timedelta(seconds=30)

# PyJWT checks only the signature; time claims are checked against the injected clock, iss and aud
# here so every rejection says exactly what was wrong.
_DECODE_OPTIONS: Options = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_iss": False,
    "verify_aud": False,
    "verify_sub": False,
    "verify_jti": False,
    "enforce_minimum_key_length": True,
}
_ROLE_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class OIDCIdentity:
    """Who a verified bearer token says the caller is."""

    username: str
    roles: frozenset[str]  # Shipyard roles, after role_map
    claims: dict[str, Any]
    expires_at: datetime  # UTC, from exp


@dataclass
class _Key:
    """One JWKS entry, with a PyJWK per algorithm it has been used with."""

    data: dict[str, Any]
    by_alg: dict[str, jwt.PyJWK] = field(default_factory=dict)


class OIDCVerifier:
    """Verifies bearer tokens from one OIDC issuer; keys and verified tokens are cached in process."""

    token_cache_size = 10_000

    def __init__(self, settings: OIDCSettings, client: httpx.AsyncClient, clock: Clock) -> None:
        if not settings.issuer:
            raise ValueError("OIDC is not configured: auth.oidc.issuer is empty")
        if not settings.algorithms:
            raise ValueError("auth.oidc.algorithms is empty: no token could ever be accepted")
        # A symmetric or absent signature would let anyone holding the (public) JWKS mint tokens.
        unsafe = [a for a in settings.algorithms if a.lower() == "none" or a.upper().startswith("HS")]
        if unsafe:
            raise ValueError(f"auth.oidc.algorithms must be asymmetric; not allowed: {', '.join(unsafe)}")
        unsupported = [a for a in settings.algorithms if a not in get_default_algorithms()]
        if unsupported:
            raise ValueError(f"auth.oidc.algorithms names unsupported algorithms: {', '.join(unsupported)}")
        unknown = sorted({role for roles in settings.role_map.values() for role in roles} - set(ROLES))
        if unknown:
            raise ValueError(
                f"auth.oidc.role_map names unknown Shipyard roles: {', '.join(unknown)} "
                f"(known: {', '.join(ROLES)})"
            )
        self._settings = settings
        self._issuer = settings.issuer
        self._client = client
        self._clock = clock
        self._leeway = timedelta(seconds=settings.leeway_seconds)
        self._jwks_url = settings.jwks_url
        self._keys: list[_Key] | None = None
        self._keys_expire_at = datetime.min.replace(tzinfo=UTC)
        self._fetches = 0  # bumped per JWKS fetch, so callers queued on the lock can reuse its outcome
        self._fetch_error: str | None = None
        self._last_refetch: datetime | None = None
        self._lock = asyncio.Lock()
        self._verified: OrderedDict[bytes, OIDCIdentity] = OrderedDict()

    async def verify(self, token: str) -> OIDCIdentity:
        """The identity a bearer token carries; Unauthenticated if it is not valid for Shipyard."""
        if not token.isascii():
            raise Unauthenticated("malformed bearer token: not ASCII")
        digest = hashlib.sha256(token.encode()).digest()
        cached = self._verified.get(digest)
        if cached is not None:
            if self._clock.now() < cached.expires_at:
                self._verified.move_to_end(digest)
                return cached
            del self._verified[digest]
        identity = await self._verify(token)
        if self._clock.now() < identity.expires_at:
            self._verified[digest] = identity
            if len(self._verified) > self.token_cache_size:
                self._verified.popitem(last=False)
        return identity

    def map_roles(self, claims: dict[str, Any]) -> frozenset[str]:
        """Shipyard roles for a token's claims, through role_map when one is configured."""
        values = _claim_values(claims, self._settings.roles_claim)
        role_map = self._settings.role_map
        if role_map:
            return frozenset(role for value in values for role in role_map.get(value, ()))
        return frozenset(value for value in values if value in ROLES)

    async def _verify(self, token: str) -> OIDCIdentity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"malformed bearer token: {exc}") from exc
        alg = header.get("alg")
        if alg not in self._settings.algorithms:
            raise Unauthenticated(
                f"token algorithm {alg!r} is not accepted (accepted: {', '.join(self._settings.algorithms)})"
            )
        kid = header.get("kid")  # PyJWT has checked it is a string when present
        key = await self._signing_key(kid, alg)
        try:
            claims = jwt.decode(token, key, algorithms=[alg], options=_DECODE_OPTIONS)
        except jwt.InvalidSignatureError as exc:
            raise Unauthenticated(f"token signature is invalid for key {kid!r}") from exc
        except jwt.InvalidKeyError as exc:
            raise Unauthenticated(f"signing key {kid!r} cannot verify this token: {exc}") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"malformed bearer token: {exc}") from exc
        expires_at = self._check_claims(claims)
        username = claims.get(self._settings.username_claim)
        if not isinstance(username, str) or not username:
            username = claims.get("sub")
        if not isinstance(username, str) or not username:
            raise Unauthenticated(
                f"token has no {self._settings.username_claim!r} or 'sub' claim to take a username from"
            )
        roles = self.map_roles(claims)
        if not roles:
            found = _claim_values(claims, self._settings.roles_claim)
            raise Unauthenticated(
                f"token for {username!r} grants no Shipyard role "
                f"({self._settings.roles_claim!r} holds {_short(found)})"
            )
        return OIDCIdentity(username=username, roles=roles, claims=claims, expires_at=expires_at)

    def _check_claims(self, claims: dict[str, Any]) -> datetime:
        """Issuer, audience and validity window; returns exp."""
        issuer = claims.get("iss")
        if issuer != self._issuer:
            raise Unauthenticated(f"token issuer {issuer!r} is not the configured issuer {self._issuer!r}")
        audience = self._settings.audience
        if audience:
            aud = claims.get("aud")
            audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
            if audience not in audiences:
                raise Unauthenticated(f"token audience {aud!r} does not include {audience!r}")
        now = self._clock.now()
        expires_at = _timestamp(claims, "exp")
        if expires_at is None:
            raise Unauthenticated("token has no exp claim; only tokens that expire are accepted")
        if now > expires_at + self._leeway:
            raise Unauthenticated(f"token expired at {expires_at.isoformat()}")
        not_before = _timestamp(claims, "nbf")
        if not_before is not None and now + self._leeway < not_before:
            raise Unauthenticated(f"token is not yet valid (not before {not_before.isoformat()})")
        issued_at = _timestamp(claims, "iat")
        if issued_at is not None and now + self._leeway < issued_at:
            raise Unauthenticated(f"token was issued in the future ({issued_at.isoformat()})")
        return expires_at

    async def _signing_key(self, kid: str | None, alg: str) -> jwt.PyJWK:
        started = self._fetches
        if self._keys is None or self._clock.now() >= self._keys_expire_at:
            await self._refresh(started)
        key = self._find(kid)
        # An unknown kid usually means the IdP rotated its keys: refetch once, unless keys were fetched
        # during this very call. A fetch already in flight is waited for rather than repeated.
        if key is None and kid is not None and self._fetches == started:
            refetch = self._lock.locked()  # the lock is only held across a fetch
            if not refetch and self._may_refetch():
                self._last_refetch = self._clock.now()
                log.info("OIDC token names unknown key id %r; refetching the JWKS", kid)
                refetch = True
            if refetch:
                await self._refresh(self._fetches)
                key = self._find(kid)
        if key is None:
            if kid is None:
                count = len(self._keys or ())
                raise Unauthenticated(
                    f"token has no key id (kid) and the identity provider publishes {count} keys"
                )
            raise Unauthenticated(f"token signing key id {kid!r} is unknown to the identity provider's JWKS")
        return _jwk_for(key, kid, alg)

    def _find(self, kid: str | None) -> _Key | None:
        keys = self._keys or []
        if kid is None:
            return keys[0] if len(keys) == 1 else None
        return next((key for key in keys if key.data.get("kid") == kid), None)

    def _may_refetch(self) -> bool:
        return self._last_refetch is None or self._clock.now() - self._last_refetch >= REFETCH_INTERVAL

    async def _refresh(self, seen: int) -> None:
        """Fetch the JWKS, unless a fetch finished while this caller waited for the lock: reuse that."""
        async with self._lock:
            if self._fetches != seen:
                if self._fetch_error is not None:
                    raise Unavailable(self._fetch_error)
                return
            try:
                keys = await self._fetch_jwks()
            except Unavailable as exc:
                self._fetch_error = exc.detail
                self._fetches += 1
                raise
            self._fetch_error = None
            self._keys = keys
            self._keys_expire_at = self._clock.now() + timedelta(seconds=self._settings.jwks_cache_seconds)
            # Bumped only once the outcome is known; a cancelled fetch leaves waiters to try again.
            self._fetches += 1

    async def _fetch_jwks(self) -> list[_Key]:
        url = self._jwks_url or await self._discover()
        document = await self._get_json(url, "JWKS")
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise Unavailable(f"the identity provider's JWKS at {url} has no 'keys' list")
        keys: list[_Key] = []
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                jwk = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue  # a key type we cannot use is no reason to reject the keys we can
            keys.append(_Key(data=entry, by_alg={jwk.algorithm_name: jwk}))
        if not keys:
            raise Unavailable(f"the identity provider's JWKS at {url} has no usable signing keys")
        log.debug("fetched %d OIDC signing keys from %s", len(keys), url)
        return keys

    async def _discover(self) -> str:
        url = f"{self._issuer.rstrip('/')}/.well-known/openid-configuration"
        document = await self._get_json(url, "discovery document")
        # OIDC Discovery requires the document to name the issuer it was fetched for (mix-up defence).
        if document.get("issuer") != self._issuer:
            raise Unavailable(
                f"the discovery document at {url} names issuer {document.get('issuer')!r}, "
                f"not the configured {self._issuer!r}"
            )
        jwks_url = document.get("jwks_uri")
        if not isinstance(jwks_url, str) or not jwks_url:
            raise Unavailable(f"the discovery document at {url} has no jwks_uri")
        self._jwks_url = jwks_url
        return jwks_url

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = await self._client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        except httpx.HTTPError as exc:
            raise Unavailable(f"cannot fetch the identity provider's {what} from {url}: {exc}") from exc
        except ValueError as exc:
            raise Unavailable(f"the identity provider's {what} at {url} is not valid JSON") from exc
        if not isinstance(document, dict):
            raise Unavailable(f"the identity provider's {what} at {url} is not a JSON object")
        return document


def _jwk_for(key: _Key, kid: str | None, alg: str) -> jwt.PyJWK:
    """The key bound to the token's algorithm; a JWK without `alg` may serve any its type allows."""
    jwk = key.by_alg.get(alg)
    if jwk is not None:
        return jwk
    declared = key.data.get("alg")
    if declared:
        raise Unauthenticated(f"token algorithm {alg} does not match key {kid!r}, which is for {declared}")
    try:
        jwk = jwt.PyJWK(key.data, algorithm=alg)
    except jwt.PyJWTError as exc:
        raise Unauthenticated(
            f"token algorithm {alg} cannot be used with key {kid!r} (type {key.data.get('kty')})"
        ) from exc
    key.by_alg[alg] = jwk
    return jwk


def _claim_values(claims: Mapping[str, Any], path: str) -> list[str]:
    """String values at a claim name or dotted path; a string value is split on spaces and commas."""
    value: Any
    if path in claims:  # namespaced claims such as "https://example.com/roles" contain dots themselves
        value = claims[path]
    else:
        value = claims
        for part in path.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return []
            value = value[part]
    if isinstance(value, str):
        return [item for item in _ROLE_SEPARATORS.split(value) if item]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _timestamp(claims: Mapping[str, Any], name: str) -> datetime | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unauthenticated(f"token claim {name!r} is not a numeric timestamp")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise Unauthenticated(f"token claim {name!r} is out of range") from exc


def _short(values: list[str]) -> str:
    text = repr(values) if values else "nothing"
    return text if len(text) <= 200 else f"{text[:197]}..."
