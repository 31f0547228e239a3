"""Row: a JWT-authorized route against an open one, same HTTP_PROXY integration, one stageway process.

The issuer is `tests/support/jwks_server.py`'s `JwksServer`, run in this process on a loopback port: OIDC
discovery and a JWKS with one RSA key (RS256, as Cognito signs). wrk sends the same valid bearer token to
both routes, so the ratio is the authorizer's cost alone (the open route ignores the header). One token for
the whole run is a client reusing its token: stageway trusts a verified signature for a while (keyed on the
token), so this measures that path, not an RSA check per request.
"""

from __future__ import annotations

import importlib.util
import time

from bench import servers
from bench.scenarios import Context, Row, scenario
from bench.scenarios.proxy import measure_pair, throughput_row
from bench.tools import BenchError, Processes, http_request

TARGET = 0.7
ALGORITHM = "RS256"


def issuer_missing(ctx: Context) -> str | None:
    missing = [name for name in ("jwt", "cryptography") if importlib.util.find_spec(name) is None]
    return f"the local issuer needs {' and '.join(missing)} (pip install -e '.[dev]')" if missing else None


def token_lifetime(ctx: Context) -> int:
    """Seconds a token must stay valid: every wrk run of the row (two warm-ups too), with an hour to spare."""
    return 3600 + int(2 * (ctx.rounds + 1) * (ctx.duration + 2))


def check_secure(port: int, token: str) -> None:
    """Before measuring: no token is refused (401), the token is accepted (200, keys fetched from the issuer)."""
    status, _, body = http_request(port, "/secure", timeout=10.0)
    if status != 401:
        raise BenchError(f"GET /secure without a token answered {status}, not 401: {body[:200]!r}")
    status, _, body = http_request(
        port, "/secure", timeout=10.0, headers={"Authorization": f"Bearer {token}"}
    )
    if status != 200:
        raise BenchError(f"GET /secure with a valid token answered {status}, not 200: {body[:200]!r}")


@scenario(
    "jwt",
    "JWT-authorized route vs an open route",
    f"≥ {TARGET}×",
    needs=("wrk",),
    available=issuer_missing,
)
def run(ctx: Context) -> list[Row]:
    """Requests/s of `GET /secure` (JWT authorizer, RS256 token, local issuer) vs an open route, same integration.

    One stageway process; see the module docstring."""
    from tests.support.jwks_server import JwksServer  # needs PyJWT and cryptography: imported only when run

    with JwksServer() as issuer, Processes(ctx.workdir / "jwt") as procs:
        key = issuer.add_key(ALGORITHM)
        now = int(time.time())
        token = issuer.token(
            issuer.claims(aud=servers.JWT_AUDIENCE, iat=now, nbf=now, exp=now + token_lifetime(ctx)), key=key
        )
        backend = servers.start_backend(procs)
        api = servers.write_yaml(procs.workdir / "jwt.yaml", servers.jwt_api(backend.port, issuer.issuer))
        stageway = servers.start_stageway(procs, api, "/pets")
        check_secure(stageway.port, token)
        bearer = {"Authorization": f"Bearer {token}"}
        results, problems = measure_pair(
            ctx,
            {"a": stageway.url("/secure"), "b": stageway.url("/pets")},
            headers={"a": bearer, "b": bearer},
            servers_of={"a": stageway, "b": stageway},  # one process: its CPU during each side's runs
        )
        fetches = issuer.jwks_fetches
    row = throughput_row(
        f"JWT-authorized route ({ALGORITHM} bearer token, local OIDC issuer), req/s vs an open route to the same "
        "HTTP_PROXY integration, same stageway process",
        results,
        problems,
        TARGET,
        ("jwt", "open"),
    )
    row.notes.append(
        f"issuer = tests/support/jwks_server.py on loopback, JWKS fetched {fetches} time(s) in the whole run; "
        f"one {len(token)}-byte token for the whole run, sent as `Authorization: Bearer` to both sides: a client "
        "reusing its token, so a cache of verified tokens in stageway (if any) answers all but the first request; "
        f"wrk -t{ctx.threads} -c{ctx.connections}"
    )
    return [row]
