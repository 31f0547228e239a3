"""apigatewayv2 changes seen from the data plane, and concurrent clients.

A quick-created API answers on its execute-api host; a deployment is live within a second; a change that
nobody deploys is never live on a stage without autoDeploy; eight clients creating routes at once all land.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.backend import BackendServer
from tests.support.control import ControlPlane, start_control_plane
from tests.support.stageway_server import http

LIVE_WITHIN_S = 1.0


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def plane(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """Each test on both stores: SQLite runs every admin call in a worker thread of its own connection."""
    store = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path_factory.mktemp('db')}/state.db"
    with start_control_plane(store=store) as running:
        yield running


@pytest.fixture(scope="module")
def client(plane: ControlPlane) -> Any:
    return plane.client()


def call(plane: ControlPlane, api_id: str, path: str) -> tuple[int, bytes]:
    status, _, body, _ = http(
        "GET", plane.data_url + path, headers={"Host": f"{api_id}.execute-api.localhost:{plane.data_port}"}
    )
    return status, body


def wait_for(plane: ControlPlane, api_id: str, path: str, wanted: int, within_s: float) -> tuple[int, bytes]:
    deadline = time.monotonic() + within_s
    while True:
        status, body = call(plane, api_id, path)
        if status == wanted or time.monotonic() > deadline:
            return status, body
        time.sleep(0.05)


def test_quick_create_serves_the_target(plane: ControlPlane, client: Any, backend: BackendServer) -> None:
    api = client.create_api(Name="quick", ProtocolType="HTTP", Target=f"{backend.url}/echo/quick")
    status, body = wait_for(plane, api["ApiId"], "/hello?x=1", 200, LIVE_WITHIN_S)
    assert status == 200, body
    echoed = json.loads(body)
    assert echoed["method"] == "GET"
    assert echoed["path"].startswith("/echo/quick")


def test_deployment_is_live_within_a_second(plane: ControlPlane, client: Any, backend: BackendServer) -> None:
    api_id = client.create_api(Name="staged", ProtocolType="HTTP")["ApiId"]
    first = client.create_integration(
        ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationUri=f"{backend.url}/echo/first",
        IntegrationMethod="GET", PayloadFormatVersion="1.0",
    )["IntegrationId"]
    route_id = client.create_route(ApiId=api_id, RouteKey="GET /thing", Target=f"integrations/{first}")["RouteId"]
    client.create_stage(ApiId=api_id, StageName="prod")
    assert call(plane, api_id, "/prod/thing")[0] == 404  # a stage without a deployment routes nothing

    client.create_deployment(ApiId=api_id, StageName="prod")
    started = time.monotonic()
    status, body = wait_for(plane, api_id, "/prod/thing", 200, LIVE_WITHIN_S)
    assert status == 200 and json.loads(body)["path"] == "/echo/first", body
    assert time.monotonic() - started <= LIVE_WITHIN_S

    # A change nobody deploys never reaches the stage: it keeps serving its deployment.
    second = client.create_integration(
        ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationUri=f"{backend.url}/echo/second",
        IntegrationMethod="GET", PayloadFormatVersion="1.0",
    )["IntegrationId"]
    client.update_route(ApiId=api_id, RouteId=route_id, Target=f"integrations/{second}")
    client.create_route(ApiId=api_id, RouteKey="GET /other", Target=f"integrations/{second}")
    time.sleep(LIVE_WITHIN_S + 0.5)
    status, body = call(plane, api_id, "/prod/thing")
    assert status == 200 and json.loads(body)["path"] == "/echo/first"
    assert call(plane, api_id, "/prod/other")[0] == 404

    client.create_deployment(ApiId=api_id, StageName="prod")
    status, body = wait_for(plane, api_id, "/prod/other", 200, LIVE_WITHIN_S)
    assert status == 200 and json.loads(body)["path"] == "/echo/second"
    assert json.loads(call(plane, api_id, "/prod/thing")[1])["path"] == "/echo/second"


def auto_deployed_api(client: Any, backend: BackendServer, name: str) -> tuple[str, str]:
    """(API id, integration id) of a new API whose `$default` stage auto-deploys, with an HTTP_PROXY
    integration to the backend's echo."""
    api_id = client.create_api(Name=name, ProtocolType="HTTP")["ApiId"]
    client.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    integration_id = client.create_integration(
        ApiId=api_id, IntegrationType="HTTP_PROXY", IntegrationUri=f"{backend.url}/echo/{name}",
        IntegrationMethod="ANY", PayloadFormatVersion="1.0",
    )["IntegrationId"]
    return api_id, integration_id


def test_auto_deploy_stage_follows_changes(plane: ControlPlane, client: Any, backend: BackendServer) -> None:
    api_id, integration_id = auto_deployed_api(client, backend, "auto")
    client.create_route(ApiId=api_id, RouteKey="GET /auto", Target=f"integrations/{integration_id}")
    status, body = wait_for(plane, api_id, "/auto", 200, LIVE_WITHIN_S)
    assert status == 200, body


def test_a_write_through_this_node_is_served_before_its_answer(
    plane: ControlPlane, client: Any, backend: BackendServer
) -> None:
    # The writer's thread compiles the change and queues it on the serving loop before it answers: a client
    # that changed a route and calls it next finds it changed, every time, with no waiting.
    api_id, integration_id = auto_deployed_api(client, backend, "read-your-writes")
    for n in range(15):
        route_id = client.create_route(
            ApiId=api_id, RouteKey=f"GET /rw{n}", Target=f"integrations/{integration_id}"
        )["RouteId"]
        assert call(plane, api_id, f"/rw{n}")[0] == 200
        client.delete_route(ApiId=api_id, RouteId=route_id)
        assert call(plane, api_id, f"/rw{n}")[0] == 404


def test_concurrent_route_creation_all_lands(plane: ControlPlane, client: Any) -> None:
    api_id = client.create_api(Name="busy", ProtocolType="HTTP")["ApiId"]
    client.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    clients = [plane.client() for _ in range(8)]
    barrier = threading.Barrier(len(clients))
    created: list[str] = []
    errors: list[BaseException] = []

    def create(index: int) -> None:
        try:
            barrier.wait()
            for n in range(3):
                route = clients[index].create_route(ApiId=api_id, RouteKey=f"GET /t{index}/r{n}")
                created.append(route["RouteId"])
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=create, args=(index,)) for index in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    listed = client.get_routes(ApiId=api_id)["Items"]
    assert sorted(route["RouteId"] for route in listed) == sorted(created)
    assert len(listed) == 24
    # The auto-deployed stage serves every route: its deployment is the last one's snapshot.
    stage = client.get_stage(ApiId=api_id, StageName="$default")
    assert stage["DeploymentId"] == client.get_deployments(ApiId=api_id)["Items"][-1]["DeploymentId"]


def test_concurrent_duplicates_conflict(plane: ControlPlane, client: Any) -> None:
    api_id = client.create_api(Name="race", ProtocolType="HTTP")["ApiId"]
    clients = [plane.client() for _ in range(8)]
    barrier = threading.Barrier(len(clients))
    outcomes: list[str] = []

    def create(index: int) -> None:
        barrier.wait()
        try:
            clients[index].create_route(ApiId=api_id, RouteKey="GET /same")
            outcomes.append("created")
        except clients[index].exceptions.ConflictException:
            outcomes.append("conflict")

    threads = [threading.Thread(target=create, args=(index,)) for index in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["conflict"] * 7 + ["created"]
