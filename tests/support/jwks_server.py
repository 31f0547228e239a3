"""A real OpenID Connect issuer for tests: discovery document and JWKS over HTTP on a loopback port.

    with JwksServer() as issuer:
        rsa = issuer.add_key("RS256")            # generated now, published in the JWKS
        token = issuer.token({"sub": "u1", "aud": "app"}, key=rsa)
        # a JWT authorizer with jwtConfiguration.issuer = issuer.issuer validates `token`

Keys are generated with `cryptography`, tokens signed by PyJWT: real signatures, nothing stubbed. The
server counts the requests it answers and can be told to fail, to answer too much, or to hide keys.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

_CURVES = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}


@dataclass
class IssuerKey:
    kid: str
    alg: str
    private_key: Any
    jwk: dict[str, Any]
    """The public JWK as published."""


class JwksServer:
    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, *, path_prefix: str = "/pool") -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.path_prefix = path_prefix
        self.keys: dict[str, IssuerKey] = {}
        self.published: set[str] = set()
        self.requests: list[str] = []
        self.fail_status: int | None = None
        """Answer every request with this status (e.g. 500) instead of the documents."""
        self.padding_bytes = 0
        """Extra bytes added to the JWKS, to exceed the gateway's 150000-byte limit."""
        self.delay_s = 0.0
        self._lock = threading.Lock()
        self._serial = 0

    # --------------------------------------------------------------------------------- life cycle

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def issuer(self) -> str:
        return self.base_url + self.path_prefix

    @property
    def jwks_uri(self) -> str:
        return self.base_url + "/keys/jwks.json"

    def count(self, suffix: str) -> int:
        with self._lock:
            return sum(1 for path in self.requests if path.endswith(suffix))

    @property
    def jwks_fetches(self) -> int:
        return self.count("/jwks.json")

    # ------------------------------------------------------------------------------------- keys

    def add_key(self, alg: str = "RS256", *, kid: str | None = None, publish: bool = True,
                jwk_alg: bool = True) -> IssuerKey:
        """A new key pair for `alg` (RS*, PS*: RSA 2048; ES*: the algorithm's curve)."""
        with self._lock:
            self._serial += 1
            kid = kid or f"key-{self._serial}-{alg.lower()}"
        if alg.startswith(("RS", "PS")):
            private_key: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            jwk = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        else:
            private_key = ec.generate_private_key(_CURVES[alg])
            jwk = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        jwk.update({"kid": kid, "use": "sig"})
        if jwk_alg:
            jwk["alg"] = alg
        key = IssuerKey(kid, alg, private_key, jwk)
        with self._lock:
            self.keys[kid] = key
            if publish:
                self.published.add(kid)
        return key

    def publish(self, key: IssuerKey) -> None:
        with self._lock:
            self.published.add(key.kid)

    def unpublish(self, key: IssuerKey) -> None:
        with self._lock:
            self.published.discard(key.kid)

    # ----------------------------------------------------------------------------------- tokens

    def claims(self, **claims: Any) -> dict[str, Any]:
        """Claims of a token valid for an hour from this issuer; keyword arguments override or add."""
        now = int(time.time())
        base: dict[str, Any] = {"iss": self.issuer, "sub": "user-1", "iat": now, "nbf": now, "exp": now + 3600}
        base.update(claims)
        return {name: value for name, value in base.items() if value is not None}

    def token(self, claims: dict[str, Any], *, key: IssuerKey, alg: str | None = None,
              headers: dict[str, Any] | None = None) -> str:
        header = {"kid": key.kid, **(headers or {})}
        return jwt.encode(claims, key.private_key, algorithm=alg or key.alg, headers=header)

    # -------------------------------------------------------------------------------- documents

    def document(self, path: str) -> tuple[int, bytes]:
        with self._lock:
            self.requests.append(path)
            fail, padding = self.fail_status, self.padding_bytes
            published = [self.keys[kid].jwk for kid in sorted(self.published)]
        if fail is not None:
            return fail, b'{"message": "failing on purpose"}'
        if path == self.path_prefix + "/.well-known/openid-configuration":
            return 200, json.dumps({"issuer": self.issuer, "jwks_uri": self.jwks_uri}).encode()
        if path == "/keys/jwks.json":
            document: dict[str, Any] = {"keys": published}
            if padding:
                document["padding"] = "x" * padding
            return 200, json.dumps(document).encode()
        return 404, b"{}"


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a gateway that gave up on a slow or oversized answer closed the connection: expected


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def do_GET(self) -> None:
        owner: JwksServer = self.server.owner  # type: ignore[attr-defined]
        if owner.delay_s:
            time.sleep(owner.delay_s)
        status, body = owner.document(self.path)
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass
