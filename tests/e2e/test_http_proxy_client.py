"""The HTTP_PROXY client against a real backend on loopback (spec §4.5, §4.6)."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import orjson
import pytest

from stageway.core.errors import IntegrationFailure, IntegrationTimeout
from stageway.core.http import GatewayResponse
from stageway.core.http_proxy import backend_request_headers
from stageway.integrations.http_proxy import MAX_RESPONSE_BODY, HttpProxyClient
from tests.support.backend import GZIP_BODY, BackendServer, start_backend

T = TypeVar("T")


def run(scenario: Callable[[HttpProxyClient], Awaitable[T]], client: HttpProxyClient | None = None) -> T:
    """Run one scenario on a fresh event loop with its own client, closed afterwards."""

    async def main() -> T:
        proxy = client or HttpProxyClient()
        try:
            return await scenario(proxy)
        finally:
            await proxy.close()

    return asyncio.run(main())


def host_of(backend: BackendServer) -> list[tuple[str, str]]:
    return [("host", f"127.0.0.1:{backend.port}")]


async def get(
    client: HttpProxyClient, backend: BackendServer, path: str, timeout_s: float = 5
) -> GatewayResponse:
    return await client.send("GET", backend.url + path, host_of(backend), b"", timeout_s)


def echo_of(response: GatewayResponse) -> dict[str, object]:
    assert response.status == 200, response
    payload = orjson.loads(response.body)
    assert isinstance(payload, dict)
    return payload


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_methods_path_and_query_reach_the_backend(backend: BackendServer, method: str) -> None:
    body = b'{"n": 1}' if method in ("POST", "PUT", "PATCH") else b""

    async def scenario(client: HttpProxyClient) -> GatewayResponse:
        return await client.send(method, backend.url + "/echo/a%20b/c?x=1&y=%2F", host_of(backend), body, 5)

    echo = echo_of(run(scenario))
    assert echo["method"] == method
    assert echo["path"] == "/echo/a%20b/c"
    assert echo["query"] == "x=1&y=%2F"
    assert echo["body"] == body.decode()


def test_petstore_routes(backend: BackendServer) -> None:
    async def scenario(client: HttpProxyClient) -> list[GatewayResponse]:
        json_headers = [*host_of(backend), ("content-type", "application/json")]
        created = await client.send(
            "POST", backend.url + "/pets", json_headers, b'{"type":"bird","price":9}', 5
        )
        pet_id = orjson.loads(created.body)["id"]
        return [
            created,
            await get(client, backend, f"/pets/{pet_id}"),
            await get(client, backend, "/pets?type=bird"),
            await get(client, backend, "/pets/999"),
            await client.send("POST", backend.url + "/pets", json_headers, b"not json", 5),
        ]

    created, fetched, listed, missing, invalid = run(scenario)
    assert created.status == 201
    pet = orjson.loads(created.body)
    assert pet["type"] == "bird" and ("location", f"/pets/{pet['id']}") in created.headers
    assert orjson.loads(fetched.body) == pet
    assert pet in orjson.loads(listed.body)
    assert all(item["type"] == "bird" for item in orjson.loads(listed.body))
    assert (missing.status, invalid.status) == (404, 400)


def test_request_headers_are_sent_exactly(backend: BackendServer) -> None:
    headers = backend_request_headers(
        [
            ("host", "api.example.com"),
            ("connection", "keep-alive"),
            ("content-type", "application/json"),
            ("cookie", "a=1"),
            ("cookie", "b=2"),
            ("x-forwarded-for", "203.0.113.9"),
        ],
        backend_host=f"127.0.0.1:{backend.port}",
        original_host="api.example.com",
        client_ip="203.0.113.9",
        scheme="https",
    )

    async def scenario(client: HttpProxyClient) -> GatewayResponse:
        return await client.send("POST", backend.url + "/echo", headers, b"{}", 5)

    echo = echo_of(run(scenario))
    # Exactly what the rules produced plus the framing: no user-agent, accept-encoding or connection of its own.
    assert echo["rawHeaders"] == [[name, value] for name, value in headers] + [["content-length", "2"]]


def test_no_content_length_on_bodyless_get(backend: BackendServer) -> None:
    echo = echo_of(run(lambda client: get(client, backend, "/echo")))
    assert echo["rawHeaders"] == [["host", f"127.0.0.1:{backend.port}"]]


def test_host_added_when_missing(backend: BackendServer) -> None:
    response = run(lambda client: client.send("GET", backend.url + "/echo", [("x-a", "1")], b"", 5))
    assert echo_of(response)["headers"] == {"host": f"127.0.0.1:{backend.port}", "x-a": "1"}


def test_binary_body_byte_for_byte_both_ways(backend: BackendServer) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB, every byte value

    async def scenario(client: HttpProxyClient) -> GatewayResponse:
        headers = [*host_of(backend), ("content-type", "application/octet-stream")]
        return await client.send("PUT", backend.url + "/test/raw", headers, body, 5)

    response = run(scenario)
    assert response.status == 200
    assert response.body == body
    assert response.headers == [("content-type", "application/octet-stream")]


def test_response_headers_repeated_set_cookie_and_hop_by_hop(backend: BackendServer) -> None:
    async def scenario(client: HttpProxyClient) -> tuple[GatewayResponse, GatewayResponse]:
        return await get(client, backend, "/test/cookies"), await get(client, backend, "/test/hop-by-hop")

    cookies, hop = run(scenario)
    assert cookies.headers == [
        ("set-cookie", "a=1; Path=/"),
        ("set-cookie", "b=2; HttpOnly"),
        ("x-multi", "one"),
        ("x-multi", "two"),
        ("content-type", "text/plain"),
    ]
    assert cookies.body == b"cookies"
    assert hop.headers == [("server", "petstore"), ("x-kept", "yes")]


def test_chunked_response_is_reassembled(backend: BackendServer) -> None:
    response = run(lambda client: get(client, backend, "/test/chunked?n=5"))
    assert response.status == 200
    assert response.body == b"chunk-0;chunk-1;chunk-2;chunk-3;chunk-4;"
    assert ("transfer-encoding", "chunked") not in response.headers


def test_body_delimited_by_connection_close(backend: BackendServer) -> None:
    response = run(lambda client: get(client, backend, "/test/no-length"))
    assert (response.status, response.body) == (200, b"until-eof")


def test_no_decompression_and_no_redirects(backend: BackendServer) -> None:
    async def scenario(client: HttpProxyClient) -> tuple[GatewayResponse, GatewayResponse]:
        headers = [*host_of(backend), ("accept-encoding", "gzip")]
        zipped = await client.send("GET", backend.url + "/test/gzip", headers, b"", 5)
        return zipped, await get(client, backend, "/test/redirect")

    zipped, redirect = run(scenario)
    assert zipped.body == GZIP_BODY
    assert gzip.decompress(zipped.body) == b'{"compressed": true}'
    assert ("content-encoding", "gzip") in zipped.headers
    assert redirect.status == 302
    assert redirect.headers == [("location", "/pets")]


def test_bodyless_responses_keep_the_connection_usable(backend: BackendServer) -> None:
    async def scenario(client: HttpProxyClient) -> list[GatewayResponse]:
        responses = []
        for method, path in [
            ("HEAD", "/pets"),
            ("GET", "/test/status/204"),
            ("GET", "/test/status/304"),
            ("HEAD", "/pets/1"),
            ("GET", "/pets/1"),
        ]:
            responses.append(await client.send(method, backend.url + path, host_of(backend), b"", 5))
        return responses

    before = backend.connections_opened
    head, no_content, not_modified, head_again, pet = run(scenario)
    assert (head.status, head.body) == (200, b"")
    assert (no_content.status, no_content.body) == (204, b"")
    assert (not_modified.status, not_modified.body) == (304, b"")
    assert (head_again.status, head_again.body) == (200, b"")
    assert orjson.loads(pet.body)["id"] == 1
    assert backend.connections_opened == before + 1


def test_sequential_requests_share_one_connection(backend: BackendServer) -> None:
    async def scenario(client: HttpProxyClient) -> set[object]:
        return {echo_of(await get(client, backend, "/echo"))["connection"] for _ in range(20)}

    before = backend.connections_opened
    connections = run(scenario)
    assert len(connections) == 1
    assert backend.connections_opened == before + 1


def test_concurrent_requests_open_connections_then_reuse_them(backend: BackendServer) -> None:
    async def scenario(client: HttpProxyClient) -> tuple[int, int]:
        first = await asyncio.gather(*(get(client, backend, "/slow?ms=20") for _ in range(10)))
        opened = backend.connections_opened
        second = await asyncio.gather(*(get(client, backend, "/slow?ms=20") for _ in range(10)))
        assert all(response.status == 200 for response in [*first, *second])
        return opened, backend.connections_opened

    opened, after = run(scenario)
    assert after == opened


def test_refused_port_is_integration_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused

        async def scenario(client: HttpProxyClient) -> None:
            await client.send("GET", f"http://127.0.0.1:{port}/", [], b"", 5)

        with pytest.raises(IntegrationFailure, match="cannot connect"):
            run(scenario)


def test_unresolvable_host_is_integration_failure() -> None:
    async def scenario(client: HttpProxyClient) -> None:
        await client.send("GET", "http://no-such-host.invalid/", [], b"", 5)

    with pytest.raises(IntegrationFailure):
        run(scenario)


def test_bad_url_is_integration_failure() -> None:
    async def scenario(client: HttpProxyClient) -> None:
        await client.send("GET", "ftp://backend/", [], b"", 5)

    with pytest.raises(IntegrationFailure):
        run(scenario)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/test/close-mid-response", "mid-response"),
        ("/test/close-before-response", "without answering"),
        ("/test/garbage", "malformed"),
        (f"/test/big?bytes={MAX_RESPONSE_BODY + 1}", "over"),
    ],
)
def test_broken_backend_is_integration_failure_and_the_next_request_works(
    backend: BackendServer, path: str, message: str
) -> None:
    async def scenario(client: HttpProxyClient) -> tuple[BaseException | None, GatewayResponse]:
        await get(client, backend, "/pets")  # a pooled connection exists before the failure
        failure: BaseException | None = None
        try:
            await get(client, backend, path)
        except IntegrationFailure as error:
            failure = error
        return failure, await get(client, backend, "/pets/2")

    failure, after = run(scenario)
    assert isinstance(failure, IntegrationFailure) and message in str(failure)
    assert failure.to_response().status == 500
    assert (after.status, orjson.loads(after.body)["id"]) == (200, 2)


def test_unrequested_bytes_after_a_response_retire_the_connection(backend: BackendServer) -> None:
    async def scenario(client: HttpProxyClient) -> tuple[GatewayResponse, dict[str, object]]:
        first = await get(client, backend, "/test/extra-response")
        return first, echo_of(await get(client, backend, "/echo/next"))

    first, echo = run(scenario)
    assert first.body == b"ok"
    assert echo["path"] == "/echo/next"


def test_body_of_exactly_ten_megabytes_passes(backend: BackendServer) -> None:
    response = run(lambda client: get(client, backend, f"/test/big?bytes={MAX_RESPONSE_BODY}"))
    assert len(response.body) == MAX_RESPONSE_BODY


def test_slow_backend_is_integration_timeout_and_the_next_request_works(backend: BackendServer) -> None:
    async def scenario(client: HttpProxyClient) -> tuple[float, object, object]:
        pooled = echo_of(await get(client, backend, "/echo"))["connection"]
        started = time.monotonic()
        with pytest.raises(IntegrationTimeout) as raised:
            await get(client, backend, "/slow?ms=3000", timeout_s=0.2)  # on the pooled connection
        elapsed = time.monotonic() - started
        assert raised.value.to_response().status == 503
        return elapsed, pooled, echo_of(await get(client, backend, "/echo"))["connection"]

    elapsed, pooled, after = run(scenario)
    assert 0.2 <= elapsed < 0.4
    assert after != pooled  # the timed-out connection was dropped, not handed out again


def test_cancelled_exchange_leaves_no_connection_behind(backend: BackendServer) -> None:
    async def scenario(client: HttpProxyClient) -> dict[str, object]:
        pending = asyncio.ensure_future(get(client, backend, "/slow?ms=500"))
        await asyncio.sleep(0.05)
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        # Had the cancelled connection gone back to the pool, this would read the slow answer.
        return echo_of(await get(client, backend, "/echo/after"))

    assert run(scenario)["path"] == "/echo/after"


def test_stale_pooled_connection_is_retried_for_idempotent_methods(backend: BackendServer) -> None:
    async def scenario(client: HttpProxyClient) -> GatewayResponse:
        await get(client, backend, "/test/drop-reused")
        return await get(client, backend, "/test/drop-reused")

    response = run(scenario)
    assert (response.status, response.body) == (200, b"fresh connection")


def test_stale_pooled_connection_is_not_retried_for_post(backend: BackendServer) -> None:
    async def scenario(client: HttpProxyClient) -> None:
        await client.send("POST", backend.url + "/test/drop-reused", host_of(backend), b"x", 5)
        await client.send("POST", backend.url + "/test/drop-reused", host_of(backend), b"x", 5)

    with pytest.raises(IntegrationFailure, match="without answering"):
        run(scenario)


def test_idle_connections_expire(backend: BackendServer) -> None:
    async def scenario(client: HttpProxyClient) -> set[object]:
        first = echo_of(await get(client, backend, "/echo"))["connection"]
        await asyncio.sleep(0.15)
        return {first, echo_of(await get(client, backend, "/echo"))["connection"]}

    assert len(run(scenario, HttpProxyClient(idle_timeout_s=0.1))) == 2


def test_header_injection_is_refused(backend: BackendServer) -> None:
    async def scenario(client: HttpProxyClient) -> None:
        await client.send("GET", backend.url + "/echo", [("x-a", "1\r\nx-injected: 1")], b"", 5)

    with pytest.raises(IntegrationFailure, match="line break"):
        run(scenario)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_https_backend(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    with start_backend(ssl_context=server_context) as backend:
        assert backend.url.startswith("https://")

        async def scenario(client: HttpProxyClient) -> list[object]:
            return [echo_of(await get(client, backend, "/echo/tls"))["connection"] for _ in range(3)]

        connections = run(scenario, HttpProxyClient(ssl_context=trusting))
        assert len(set(connections)) == 1

        # The default context trusts public CAs only, as AWS does: a self-signed backend fails with 500.
        with pytest.raises(IntegrationFailure, match="cannot connect"):
            run(lambda client: get(client, backend, "/echo"))
