"""The servers a scenario starts: the pet store backend, stageway, nginx and the bare ASGI hello.

Each `start_*` returns once the server answers 200 (bounded wait) and leaves the process in `procs`, which
kills it when the scenario ends. All listen on 127.0.0.1 on free ports.
"""

from __future__ import annotations

import functools
import json
import random
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.tools import BENCH, PYTHON, ROOT, BenchError, Child, Processes, free_port, wait_http_ok

BACKEND = ROOT / "examples" / "petstore" / "backend.py"
HELLO_ASGI = BENCH / "hello_asgi.py"
FLOOR_PROXY = BENCH / "floor_proxy.py"
LEAN_PROXY = BENCH / "lean_proxy.py"
HELLO_FUNCTION = BENCH / "functions" / "hello"
HELLO_BODY = b'{"message":"hello"}'


@dataclass
class Server:
    child: Child
    port: int

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def start_backend(procs: Processes) -> Server:
    port = free_port()
    child = procs.start("backend", [PYTHON, str(BACKEND), "--host", "127.0.0.1", "--port", str(port)])
    wait_http_ok(child, port, "/pets", timeout=20)
    return Server(child, port)


def start_hello(procs: Processes) -> Server:
    """The reference: a bare ASGI app on uvicorn + uvloop + httptools, one process, no access log."""
    port = free_port()
    child = procs.start("hello-asgi", [PYTHON, str(HELLO_ASGI), "--port", str(port)])
    wait_http_ok(child, port, "/", timeout=20)
    return Server(child, port)


def start_floor_proxy(procs: Processes, backend_port: int) -> Server:
    """The floor of the proxy stack: bench/floor_proxy.py (uvloop + httptools, nothing else) to the backend."""
    port = free_port()
    argv = [PYTHON, str(FLOOR_PROXY), "--port", str(port), "--backend-port", str(backend_port)]
    child = procs.start("floor-proxy", argv)
    wait_http_ok(child, port, "/pets", timeout=20)
    return Server(child, port)


def start_lean_proxy(procs: Processes, backend_port: int, api_file: Path) -> Server:
    """bench/lean_proxy.py: the floor proxy plus a gateway's necessary per-request work, serving `api_file`."""
    port = free_port()
    argv = [PYTHON, str(LEAN_PROXY), "--port", str(port), "--backend-port", str(backend_port), "--api", str(api_file)]
    child = procs.start("lean-proxy", argv)
    wait_http_ok(child, port, "/pets", timeout=30)
    return Server(child, port)


RAISED_QUOTA = 1_000_000


@functools.cache
def serve_help() -> str:
    done = subprocess.run(
        [PYTHON, "-m", "stageway", "serve", "--help"], check=False, capture_output=True, text=True, timeout=60
    )
    return done.stdout


def quota_args() -> tuple[str, ...]:
    """A raised account throttling quota, when this stageway has one (AWS's default, 10,000 rps with a burst
    of 5,000, would answer 429 to a saturating benchmark). The bucket is still checked on every request."""
    if "--account-rate" in serve_help() and "--account-burst" in serve_help():
        return ("--account-rate", str(RAISED_QUOTA), "--account-burst", str(RAISED_QUOTA))
    return ()


def stageway_argv(
    yaml_path: Path, port: int, extra: tuple[str, ...] = (), store: str = "memory://"
) -> list[str]:
    return [
        PYTHON,
        "-m",
        "stageway",
        "serve",
        str(yaml_path),
        "--port",
        str(port),
        "--no-admin",
        "--no-access-log",
        "--store",
        store,
        *quota_args(),
        *extra,
    ]


def start_stageway(
    procs: Processes,
    yaml_path: Path,
    ready_path: str,
    *,
    extra: tuple[str, ...] = (),
    timeout: float = 60,
    host: str | None = None,
    store: str = "memory://",
) -> Server:
    """`stageway serve` on the file; ready when `GET ready_path` (with `host` as Host, if given) answers 200."""
    port = free_port()
    child = procs.start("stageway", stageway_argv(yaml_path, port, extra, store), cwd=yaml_path.parent)
    wait_http_ok(child, port, ready_path, timeout=timeout, host=host)
    return Server(child, port)


NGINX_CONF = """\
# One worker against one stageway process: stageway is a single process, so is this proxy.
worker_processes 1;
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    upstream backend {{
        server 127.0.0.1:{backend_port};
        keepalive 64;                      # pooled keep-alive connections to the backend, like stageway's
        keepalive_requests 1000000;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=1024;
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_buffering on;
        }}
    }}
}}
"""


def start_nginx(procs: Processes, nginx: str, backend_port: int, ready_path: str) -> Server:
    port = free_port()
    prefix = procs.workdir / f"nginx-{port}"
    prefix.mkdir(parents=True)
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, port=port, backend_port=backend_port))
    child = procs.start("nginx", [nginx, "-p", str(prefix), "-c", str(conf)])
    wait_http_ok(child, port, ready_path, timeout=20)
    return Server(child, port)


# --- API files ------------------------------------------------------------------------------------------------


def write_yaml(path: Path, document: dict[str, object]) -> Path:
    # JSON is YAML: no dependency on a YAML writer, and no ambiguity in what was written.
    path.write_text(json.dumps(document, indent=2))
    return path


def proxy_api(backend_port: int) -> dict[str, object]:
    return {
        "apis": {
            "bench": {
                "integrations": {
                    "pets": {
                        "integrationType": "HTTP_PROXY",
                        "integrationUri": f"http://127.0.0.1:{backend_port}/pets",
                        "integrationMethod": "GET",
                    }
                },
                "routes": {"GET /pets": "pets"},
                "stages": {"$default": {"autoDeploy": True}},
            }
        }
    }


PLAIN_API_ID = "plainapi01"
FEATURED_API_ID = "featured01"
"""The featureful row's two APIs, picked by Host (`{apiId}.execute-api.localhost`), ids of the same length."""
CORS_ORIGIN = "https://app.example.com"
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "integrationLatency": "$context.integrationLatency",
        "latency": "$context.responseLatency",
    },
    separators=(",", ":"),
)
"""AWS's suggested JSON access-log format for HTTP APIs."""


def execute_api_host(api_id: str) -> str:
    return f"{api_id}.execute-api.localhost"


def featureful_api(backend_port: int, access_log: Path) -> dict[str, object]:
    """Two APIs, one file: `plainapi01` (`GET /pets`, a bare HTTP_PROXY route) and `featured01` (`GET
    /featured`: the same backend URL, with CORS on the API, two request parameter mappings, a route throttle
    that never refuses and a JSON stage access log to `access_log`). Separate APIs, because CORS is per API and
    access logging per stage: the plain route must have neither."""
    backend = f"http://127.0.0.1:{backend_port}/pets"
    return {
        "apis": {
            "plain": {
                "id": PLAIN_API_ID,
                "integrations": {
                    "pets": {
                        "integrationType": "HTTP_PROXY",
                        "integrationUri": backend,
                        "integrationMethod": "GET",
                    }
                },
                "routes": {"GET /pets": "pets"},
                "stages": {"$default": {"autoDeploy": True}},
            },
            "featured": {
                "id": FEATURED_API_ID,
                "corsConfiguration": {
                    "allowOrigins": [CORS_ORIGIN],
                    "allowMethods": ["GET", "POST"],
                    "allowHeaders": ["authorization", "content-type"],
                    "exposeHeaders": ["x-request-id"],
                    "maxAge": 300,
                },
                "integrations": {
                    "featured": {
                        "integrationType": "HTTP_PROXY",
                        "integrationUri": backend,
                        "integrationMethod": "GET",
                        "requestParameters": {
                            "append:header.x-request-id": "$context.requestId",
                            "overwrite:querystring.limit": "10",
                        },
                    }
                },
                "routes": {"GET /featured": "featured"},
                "stages": {
                    "$default": {
                        "autoDeploy": True,
                        "routeSettings": {
                            "GET /featured": {"throttlingRateLimit": 100000, "throttlingBurstLimit": 50000}
                        },
                        "accessLogSettings": {"destinationArn": str(access_log), "format": ACCESS_LOG_FORMAT},
                    }
                },
            },
        }
    }


JWT_AUDIENCE = "stageway-bench"


def jwt_api(backend_port: int, issuer: str, audience: str = JWT_AUDIENCE) -> dict[str, object]:
    """One API, one HTTP_PROXY integration, two routes: `GET /pets` open, `GET /secure` behind a JWT authorizer."""
    return {
        "apis": {
            "bench": {
                "authorizers": {
                    "issuer": {
                        "authorizerType": "JWT",
                        "jwtConfiguration": {"issuer": issuer, "audience": [audience]},
                    }
                },
                "integrations": {
                    "backend": {
                        "integrationType": "HTTP_PROXY",
                        "integrationUri": f"http://127.0.0.1:{backend_port}/pets",
                        "integrationMethod": "GET",
                    }
                },
                "routes": {
                    "GET /pets": "backend",
                    "GET /secure": {"integration": "backend", "authorizer": "issuer"},
                },
                "stages": {"$default": {"autoDeploy": True}},
            }
        }
    }


def lambda_api(concurrency: int) -> dict[str, object]:
    return {
        "functions": {
            "hello": {
                "runtime": "python3.11",
                "handler": "app.handler",
                "code": str(HELLO_FUNCTION),
                "timeout": 10,
                "reservedConcurrency": concurrency,
            }
        },
        "apis": {
            "bench": {
                "integrations": {
                    "hello": {
                        "integrationType": "AWS_PROXY",
                        "integrationUri": "hello",
                        "payloadFormatVersion": "2.0",
                    }
                },
                "routes": {"GET /hello": "hello"},
                "stages": {"$default": {"autoDeploy": True}},
            }
        },
    }


_RESOURCES = [
    "orders",
    "users",
    "pets",
    "invoices",
    "products",
    "carts",
    "reviews",
    "shipments",
    "accounts",
    "devices",
    "tickets",
    "reports",
]


def route_at(position: int, ids: Callable[[], str] | None = None) -> tuple[str, str, str]:
    """Route number `position` of the mix: (route key, method to call it with, a request path it matches).

    Resources of eight routes each (list, create, get/put/delete by id, a nested collection and item, a
    greedy files route) under /v1../v3 prefixes: a quarter literal-only, the rest with `{params}`, one in
    eight greedy. `ids()` gives the value put where a path parameter goes (default: fixed per resource).
    """
    index, shape = divmod(position, 8)
    base = f"/v{1 + index % 3}/{_RESOURCES[index % len(_RESOURCES)]}{index}"

    def value() -> str:
        return ids() if ids is not None else str(1000 + index)

    if shape == 0:
        return f"GET {base}", "GET", base
    if shape == 1:
        return f"POST {base}", "POST", base
    if shape in (2, 3, 4):
        method = ("GET", "PUT", "DELETE")[shape - 2]
        return f"{method} {base}/{{id}}", method, f"{base}/{value()}"
    if shape == 5:
        return f"GET {base}/{{id}}/items", "GET", f"{base}/{value()}/items"
    if shape == 6:
        return f"GET {base}/{{id}}/items/{{itemId}}", "GET", f"{base}/{value()}/items/i{value()}"
    return f"ANY {base}/{{id}}/files/{{proxy+}}", "GET", f"{base}/{value()}/files/docs/{value()}/report.pdf"


def route_mix(count: int) -> list[tuple[str, str, str]]:
    """The first `count` routes of the mix (see route_at): 10 routes have the same shapes as 10,000."""
    return [route_at(position) for position in range(count)]


def many_routes_api(count: int, backend_port: int) -> tuple[dict[str, object], list[tuple[str, str, str]]]:
    """An API of `count` HTTP_PROXY routes (route_mix), one integration per resource, all to the backend."""
    routes = route_mix(count)
    integrations: dict[str, object] = {}
    route_map: dict[str, str] = {}
    for position, (key, _, _) in enumerate(routes):
        name = f"backend{position // 8}"
        integrations.setdefault(
            name,
            {
                "integrationType": "HTTP_PROXY",
                "integrationUri": f"http://127.0.0.1:{backend_port}/pets",
                "integrationMethod": "ANY",
            },
        )
        route_map[key] = name
    document: dict[str, object] = {
        "apis": {
            "bench": {
                "integrations": integrations,
                "routes": route_map,
                "stages": {"$default": {"autoDeploy": True}},
            }
        }
    }
    return document, routes


def sample(routes: list[tuple[str, str, str]], count: int, seed: int = 7) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    return [rng.choice(routes) for _ in range(count)]


def require_ok(status: int, what: str) -> None:
    if status != 200:
        raise BenchError(f"{what} answered {status}")
