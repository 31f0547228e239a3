"""Two `stageway serve` nodes on one PostgreSQL store (the real server at 127.0.0.1:5432), as two machines
behind a load balancer would run: what one node's admin API changes, the other serves."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.support.backend import start_backend
from tests.support.postgres import postgres_store_url
from tests.support.shared_state import NEW_ROUTE_PATH, add_route_through_admin, write_echo_api
from tests.support.stageway_server import StagewayServer, free_port, http


def test_two_nodes_serve_what_either_deploys(tmp_path: Path) -> None:
    with start_backend() as backend, postgres_store_url() as store:
        api = write_echo_api(tmp_path / "api.yaml", backend.url, "shared")
        admin_port = free_port()
        first = StagewayServer(
            api, args=("--admin-port", str(admin_port), "--no-access-log"), store=store
        )
        # The second node has no file and no admin listener: everything it serves comes from the store.
        second = StagewayServer(args=("--no-admin", "--no-access-log"), store=store)
        with first, second:
            status, _, body, _ = http("GET", second.url + "/x")
            assert status == 200 and json.loads(body)["path"] == "/echo/x"

            add_route_through_admin(admin_port, backend.url)
            # The second node hears of the commit (LISTEN/NOTIFY) and compiles it: the route reaches it at once.
            for node in (first, second):
                deadline = time.monotonic() + 10
                while True:
                    status, _, body, _ = http("GET", node.url + NEW_ROUTE_PATH)
                    if status == 200 and json.loads(body).get("id") == 1:
                        break
                    assert time.monotonic() < deadline, f"{node.url} never served GET {NEW_ROUTE_PATH}: {status} {body!r}"
                    time.sleep(0.1)


def test_an_unreachable_postgres_store_stops_serve_with_a_clear_error(tmp_path: Path) -> None:
    server = StagewayServer(store="postgresql://stageway:secret@127.0.0.1:1/nowhere?connect_timeout=2")
    try:
        server.start(timeout_s=20)
    except RuntimeError as error:
        message = str(error)
    else:
        server.stop()
        raise AssertionError("serve started without its store")
    assert "cannot open the store postgresql://stageway:***@127.0.0.1:1/nowhere" in message
    assert "secret" not in message and "Traceback" not in message
