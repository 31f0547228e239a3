"""The signing keys of JWT issuers: discovered, fetched, cached, refreshed when a new key appears.

AWS (http-api-jwt-authorizer, spec §7.1): keys come from the issuer's OpenID Connect discovery document
(`{issuer}/.well-known/openid-configuration` → `jwks_uri`); discovery and the JWKS each get 1500 ms and
the JWKS at most 150000 bytes; keys are cached ("API Gateway can cache the public keys for two hours").
API Gateway's newer JWT documentation adds that a token signed with a key not seen yet makes it fetch the
key set again (rest-api-jwt-authorizer-keys, "Key rotation and caching").

Here:
- keys are fetched on first use and then only when they are older than `ttl_s` or a token names an
  unknown `kid`; never once per request;
- fetches of one issuer are single-flight: concurrent requests wait for the same fetch;
- an issuer is fetched at most once per `min_refresh_s`, whatever the tokens say, so a flood of made-up
  `kid`s cannot hammer it; a failed fetch is also retried no sooner (and never cached for longer);
- when a refresh fails, the keys already known keep being used.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
import orjson

log = logging.getLogger("stageway.auth.jwks")

from stageway.auth.quotas import FETCH_TIMEOUT_S, KEYS_TTL_S, MAX_JWKS_BYTES, MIN_REFRESH_S


class KeysUnavailable(Exception):
    """The issuer's keys could not be fetched (and none are known from before)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    kty: str
    alg: str | None
    """The JWK's own `alg`, when it names one: a token must then use exactly that algorithm."""
    crv: str | None
    key: Any
    """The `cryptography` public key object."""


@dataclass
class _IssuerKeys:
    keys: dict[str, SigningKey] | None = None
    fetched_at: float = 0.0
    last_attempt: float | None = None
    last_error: str = ""
    inflight: asyncio.Future[None] | None = field(default=None, repr=False)


class JwksCache:
    """Keys by discovery URL. One instance per gateway process; `close()` releases its HTTP session."""

    def __init__(
        self,
        *,
        timeout_s: float = FETCH_TIMEOUT_S,
        max_bytes: int = MAX_JWKS_BYTES,
        ttl_s: float = KEYS_TTL_S,
        min_refresh_s: float = MIN_REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self.min_refresh_s = min_refresh_s
        self._clock = clock
        self._issuers: dict[str, _IssuerKeys] = {}
        self._session: aiohttp.ClientSession | None = None
        self.fetches = 0
        """How many key-set fetches were started (for tests and metrics)."""

    async def key(self, discovery_url: str, kid: str) -> SigningKey | None:
        """The key named `kid`, or None when the issuer does not publish it. Raises KeysUnavailable."""
        state = self._issuers.setdefault(discovery_url, _IssuerKeys())
        now = self._clock()
        keys = state.keys
        if keys is not None and kid in keys and now - state.fetched_at < self.ttl_s:
            return keys[kid]
        if state.inflight is not None or self._may_fetch(state, now):
            await self._refresh(discovery_url, state)
            keys = state.keys
        if keys is None:
            raise KeysUnavailable(state.last_error or "the issuer's keys have not been fetched")
        return keys.get(kid)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _may_fetch(self, state: _IssuerKeys, now: float) -> bool:
        return state.last_attempt is None or now - state.last_attempt >= self.min_refresh_s

    async def _refresh(self, discovery_url: str, state: _IssuerKeys) -> None:
        if state.inflight is None:
            state.inflight = asyncio.get_running_loop().create_future()
            state.last_attempt = self._clock()
            self.fetches += 1
            try:
                keys = await self._fetch_keys(discovery_url)
            except (KeysUnavailable, aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
                # Any failure of the remote party or of its answer: keep the keys we had.
                state.last_error = str(error) or type(error).__name__
                log.warning("JWKS of %s not fetched: %s", discovery_url, state.last_error)
            else:
                state.keys, state.fetched_at, state.last_error = keys, self._clock(), ""
            finally:
                inflight, state.inflight = state.inflight, None
                inflight.set_result(None)
        else:
            await asyncio.shield(state.inflight)

    async def _fetch_keys(self, discovery_url: str) -> dict[str, SigningKey]:
        discovery = await self._get_json(discovery_url)
        jwks_uri = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise KeysUnavailable(f"{discovery_url} names no http(s) jwks_uri")
        document = await self._get_json(jwks_uri)
        raw_keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(raw_keys, list):
            raise KeysUnavailable(f"{jwks_uri} is not a JSON Web Key Set")
        return parse_jwks(raw_keys)

    async def _get_json(self, url: str) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s), raise_for_status=False
            )
        async with self._session.get(url, allow_redirects=False, headers={"accept": "application/json"}) as response:
            if response.status != 200:
                raise KeysUnavailable(f"{url} answered {response.status}")
            declared = response.content_length
            if declared is not None and declared > self.max_bytes:
                raise KeysUnavailable(f"{url} is larger than {self.max_bytes} bytes")
            body = bytearray()
            async for chunk in response.content.iter_chunked(16384):
                body += chunk
                if len(body) > self.max_bytes:
                    raise KeysUnavailable(f"{url} is larger than {self.max_bytes} bytes")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise KeysUnavailable(f"{url} is not JSON: {error}") from None


def parse_jwks(raw_keys: list[Any]) -> dict[str, SigningKey]:
    """The usable signature keys of a key set, by `kid`. Keys without a `kid` cannot be picked by a token
    (AWS requires the token's `kid` to match a key), encryption keys and unreadable keys are skipped."""
    keys: dict[str, SigningKey] = {}
    for raw in raw_keys:
        if not isinstance(raw, dict) or not isinstance(raw.get("kid"), str) or raw.get("use", "sig") != "sig":
            continue
        if raw.get("kty") not in ("RSA", "EC"):
            continue  # symmetric ("oct") and OKP keys sign nothing an HTTP API accepts
        try:
            parsed = jwt.PyJWK(raw)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError):
            log.info("JWKS key %r skipped: not a usable public key", raw.get("kid"))
            continue
        alg = raw.get("alg") if isinstance(raw.get("alg"), str) else None
        crv = raw.get("crv") if isinstance(raw.get("crv"), str) else None
        key = parsed.key
        if hasattr(key, "public_key"):  # a private key published by mistake: verify with its public half
            key = key.public_key()
        keys.setdefault(raw["kid"], SigningKey(raw["kid"], raw["kty"], alg, crv, key))
    return keys
