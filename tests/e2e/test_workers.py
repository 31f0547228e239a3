"""`stageway serve --workers N`: several processes on one port, one admin listener, all stopped together."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tests.support.backend import start_backend
from tests.support.shared_state import NEW_ROUTE_PATH, add_route_through_admin, write_echo_api
from tests.support.stageway_server import StagewayServer, free_port, http


def test_workers_share_the_port_and_the_store(tmp_path: Path) -> None:
    with start_backend() as backend:
        api = write_echo_api(tmp_path / "api.yaml", backend.url, "multi")
        admin_port = free_port()
        server = StagewayServer(
            api,
            args=("--workers", "2", "--admin-port", str(admin_port), "--no-access-log"),
            store=f"sqlite:///{tmp_path}/state.db",
        )
        with server:
            # Connections are spread over the workers: each answers with its own connection to the backend.
            seen = set()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len(seen) < 2:
                status, _, body, _ = http("GET", server.url + "/x")
                assert status == 200 and json.loads(body)["path"] == "/echo/x"
                seen.add(json.loads(body)["connection"])
            assert len(seen) >= 2
            # A route created through the one admin listener reaches every worker through the store.
            add_route_through_admin(admin_port, backend.url)
            # Every worker polls the store's version twice a second; on a loaded machine allow them 10 s to
            # agree, then 20 requests in a row (spread over the workers) must all find the new route.
            deadline = time.monotonic() + 10
            in_a_row = 0
            while in_a_row < 20 and time.monotonic() < deadline:
                status, _, body, _ = http("GET", server.url + NEW_ROUTE_PATH)
                # A worker that has not seen the route yet answers from the `$default` route (the echo).
                found = status == 200 and json.loads(body).get("id") == 1
                in_a_row = in_a_row + 1 if found else 0
                if not found:
                    time.sleep(0.1)
            assert in_a_row == 20
            assert server.process is not None
            children = _children(server.process.pid)
            assert len(children) >= 2
        assert server.process.returncode == 0

        def survivors() -> list[int]:
            return [pid for pid in children if Path(f"/proc/{pid}").exists() and _state(pid) not in ("Z", "gone")]

        # multiprocessing's helper (its resource tracker) notices the parent's exit a moment later: allow a
        # few seconds for every child to be gone, none may outlive that.
        deadline = time.monotonic() + 5
        while survivors() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not survivors()


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.split(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1].split()[0]
    except OSError:
        return "gone"
