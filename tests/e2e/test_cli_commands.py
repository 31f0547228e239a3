"""`stageway routes | deploy | export | import | invoke` against a real `stageway serve` (through its admin
listener) and against its store directly (`--store`)."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.config import Config

from stageway.cli_commands import add_subcommands, run
from tests.support.lambda_zip import ECHO, handler_zip
from tests.support.stageway_server import StagewayServer, free_port

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:"


class Cli:
    def __init__(self, server: StagewayServer, admin_port: int, store: str) -> None:
        self.server = server
        self.endpoint = f"http://127.0.0.1:{admin_port}"
        self.store = store

    def client(self, service: str) -> Any:
        return boto3.client(
            service, endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="k",
            aws_secret_access_key="s", config=Config(retries={"max_attempts": 1}),
        )

    def __call__(self, *argv: str, endpoint: str | None = None) -> tuple[int, str, str]:
        """Run one command against the server (or with `--store` when argv says so)."""
        parser = argparse.ArgumentParser(prog="stageway")
        add_subcommands(parser.add_subparsers(dest="command"))
        where = [] if "--store" in argv else ["--endpoint-url", endpoint or self.endpoint]
        args = parser.parse_args([argv[0], *where, *argv[1:]])
        out, err = io.StringIO(), io.StringIO()
        status = run(args, stdout=out, stderr=err)
        return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    root = tmp_path_factory.mktemp("cli")
    store = f"sqlite:///{root}/state.db"
    port = free_port()
    with StagewayServer(args=("--admin-port", str(port)), store=store, cwd=root) as server:
        cli = Cli(server, port, store)
        _make_shop(cli)
        yield cli


def _make_shop(cli: Cli) -> None:
    lam, apigw = cli.client("lambda"), cli.client("apigatewayv2")
    lam.create_function(FunctionName="shop-fn", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": handler_zip(ECHO)})
    lam.create_function(FunctionName="shop-fails", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": handler_zip("def handler(e, c):\n    raise KeyError('nope')\n")})
    api = apigw.create_api(Name="shop", ProtocolType="HTTP")["ApiId"]
    http = apigw.create_integration(ApiId=api, IntegrationType="HTTP_PROXY", IntegrationMethod="GET",
                                    IntegrationUri="http://127.0.0.1:9/items", PayloadFormatVersion="1.0")
    fn = apigw.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=FUNCTION_ARN + "shop-fn",
                                  PayloadFormatVersion="2.0")
    apigw.create_route(ApiId=api, RouteKey="GET /items", Target=f"integrations/{http['IntegrationId']}")
    apigw.create_route(ApiId=api, RouteKey="ANY /fn/{proxy+}", Target=f"integrations/{fn['IntegrationId']}")
    apigw.create_stage(ApiId=api, StageName="prod")


def _shop_id(cli: Cli) -> str:
    return next(api["ApiId"] for api in cli.client("apigatewayv2").get_apis()["Items"] if api["Name"] == "shop")


def test_routes_deploy_and_what_a_stage_serves(cli: Cli) -> None:
    status, out, err = cli("routes", "--api", "shop")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("API shop (id ") and lines[0].endswith("current configuration")
    assert lines[1].split() == ["ROUTE", "INTEGRATION", "TARGET"]
    assert lines[2].split() == ["ANY", "/fn/{proxy+}", "AWS_PROXY", "function", "shop-fn"]
    assert lines[3].split() == ["GET", "/items", "HTTP_PROXY", "GET", "http://127.0.0.1:9/items"]

    status, out, _ = cli("routes", "--api", "shop", "--stage", "prod")
    assert status == 0 and "not deployed yet" in out

    status, out, err = cli("deploy", "shop", "prod", "--description", "first")
    assert status == 0, err
    deployment = out.strip().rsplit(" ", 1)[-1]
    stage = cli.client("apigatewayv2").get_stage(ApiId=_shop_id(cli), StageName="prod")
    assert stage["DeploymentId"] == deployment
    status, out, _ = cli("routes", "--api", _shop_id(cli), "--stage", "prod")
    assert f"stage prod (deployment {deployment})" in out
    assert "GET /items" in out and "function shop-fn" in out

    # A route added later is in the configuration, not in the stage, until the next deployment.
    apigw = cli.client("apigatewayv2")
    apigw.create_route(ApiId=_shop_id(cli), RouteKey="POST /orders")
    assert "POST /orders" in cli("routes", "--api", "shop")[1]
    assert "POST /orders" not in cli("routes", "--api", "shop", "--stage", "prod")[1]
    assert cli("deploy", "shop", "prod")[0] == 0
    served = cli("routes", "--api", "shop", "--stage", "prod")[1]
    assert [line.split() for line in served.splitlines() if "/orders" in line] == [["POST", "/orders", "-", "-"]]


def test_export_and_import(cli: Cli, tmp_path: Path) -> None:
    status, out, err = cli("export", "shop", "--format", "json")
    assert status == 0, err
    document = json.loads(out)
    assert document["openapi"].startswith("3.0") and document["info"]["title"] == "shop"
    assert "/items" in document["paths"]

    target = tmp_path / "shop.yaml"
    status, _, err = cli("export", "shop", "--output", str(target))
    assert status == 0 and "wrote" in err
    assert yaml.safe_load(target.read_text())["info"]["title"] == "shop"

    document["info"]["title"] = "shop-copy"
    copy = tmp_path / "copy.json"
    copy.write_text(json.dumps(document))
    status, out, err = cli("import", str(copy))
    assert status == 0, err
    assert out.startswith("imported API shop-copy (id ")
    names = [api["Name"] for api in cli.client("apigatewayv2").get_apis()["Items"]]
    assert "shop-copy" in names
    assert "GET /items" in cli("routes", "--api", "shop-copy")[1]


def test_invoke(cli: Cli, tmp_path: Path) -> None:
    status, out, err = cli("invoke", "shop-fn", "--payload", '{"k": 1}')
    assert status == 0, err
    assert json.loads(out)["event"] == {"k": 1}

    event = tmp_path / "event.json"
    event.write_text('{"from": "file"}')
    status, out, err = cli("invoke", FUNCTION_ARN + "shop-fn", "--payload", f"@{event}", "--log")
    assert status == 0 and json.loads(out)["event"] == {"from": "file"}
    assert "START RequestId:" in err and 'event: {"from": "file"}' in err

    status, out, err = cli("invoke", "shop-fails")
    assert status == 1
    assert json.loads(out)["errorType"] == "KeyError"
    assert "the function failed (Unhandled)" in err


def test_clear_errors(cli: Cli) -> None:
    status, out, err = cli("routes", "--api", "nope")
    assert (status, out) == (1, "")
    assert err == "stageway routes: no API has the name or id 'nope'\n"

    cli.client("apigatewayv2").create_api(Name="another", ProtocolType="HTTP")
    status, _, err = cli("routes")  # which one?
    assert status == 1 and "say which with --api" in err

    status, _, err = cli("invoke", "missing-fn")
    assert status == 1
    assert err.startswith("stageway invoke: ResourceNotFoundException: Function not found: arn:aws:lambda:")

    status, _, err = cli("deploy", "shop", "no-such-stage")
    assert status == 1 and "NotFoundException" in err

    down = f"http://127.0.0.1:{free_port()}"
    status, _, err = cli("routes", endpoint=down)
    assert status == 1
    assert "cannot reach the stageway admin listener at " + down in err and "Traceback" not in err


def test_store_mode_works_without_a_server(cli: Cli) -> None:
    by_server = cli("routes", "--api", "shop", "--stage", "prod")
    by_store = cli("routes", "--store", cli.store, "--api", "shop", "--stage", "prod")
    assert by_store == by_server

    status, out, err = cli("invoke", "--store", cli.store, "shop-fn", "--payload", '{"via": "store"}')
    assert status == 0, err
    assert json.loads(out)["event"] == {"via": "store"}

    status, out, err = cli("deploy", "--store", cli.store, "shop", "prod", "--description", "from the store")
    assert status == 0, err
    deployment = out.strip().rsplit(" ", 1)[-1]
    # Written to the store the server serves from: it sees the deployment at once.
    assert cli.client("apigatewayv2").get_stage(ApiId=_shop_id(cli), StageName="prod")["DeploymentId"] == deployment


def test_admin_credentials(tmp_path: Path) -> None:
    port = free_port()
    with StagewayServer(args=("--admin-port", str(port), "--admin-credentials", "CLIKEY:cli-secret")) as server:
        cli = Cli(server, port, "memory://")
        status, _out, err = cli("routes", "--admin-credentials", "CLIKEY:cli-secret")
        assert (status, err) == (1, "stageway routes: there are no APIs\n")
        status, _, err = cli("routes", "--admin-credentials", "OTHER:cli-secret")
        assert status == 1
        assert err == "stageway routes: UnrecognizedClientException: The security token included in the request is invalid.\n"
        assert "cli-secret" not in server.log()
