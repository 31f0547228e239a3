"""`stageway routes | deploy | export | import | invoke`: the CLI as a client of the admin listener.

Every command is a boto3 call (apigatewayv2 or Lambda), so it does exactly what the same call from any AWS
tool does. By default it talks to a running `stageway serve` (`--endpoint-url`, the admin listener); with
`--store URL` it opens that store itself and serves its admin API in this process, on a private loopback
port with one-time credentials, for as long as the command runs.

    parser: add_subcommands(subparsers)      main: if args.command in COMMANDS: return run(args)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

DEFAULT_ENDPOINT = "http://127.0.0.1:8081"
DUMMY_CREDENTIALS = ("stageway", "stageway")
"""Signed with when nothing else is configured: an admin listener without --admin-credentials takes any."""

COMMANDS = ("routes", "deploy", "export", "import", "invoke")


class CommandError(Exception):
    """A failure to report in one line, without a traceback."""


# --------------------------------------------------------------------------------------------------
# Arguments


def add_subcommands(subparsers: Any) -> None:
    """Add the five commands to `stageway`'s subparsers (`parser.add_subparsers(...)`)."""
    connection = argparse.ArgumentParser(add_help=False)
    group = connection.add_argument_group("where the gateway is")
    group.add_argument(
        "--endpoint-url",
        default=os.environ.get("STAGEWAY_ENDPOINT_URL", DEFAULT_ENDPOINT),
        metavar="URL",
        help=f"the admin listener of a running `stageway serve` (default {DEFAULT_ENDPOINT}, env STAGEWAY_ENDPOINT_URL)",
    )
    group.add_argument(
        "--store",
        metavar="URL",
        help="work on this store directly (sqlite:///PATH) instead of a running server",
    )
    group.add_argument(
        "--admin-credentials",
        default=os.environ.get("STAGEWAY_ADMIN_CREDENTIALS"),
        metavar="KEY:SECRET",
        help="sign with this key (env STAGEWAY_ADMIN_CREDENTIALS; default: boto3's credentials, or dummy ones)",
    )
    group.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        help="the region ARNs are in (default us-east-1, env AWS_REGION)",
    )

    routes = subparsers.add_parser(
        "routes",
        parents=[connection],
        help="print the route table of an API",
        description="Print an API's routes: route key, integration type and target. With --stage, the routes "
        "that stage serves (its deployment); without, the API's current configuration.",
    )
    routes.add_argument("--api", metavar="NAME|ID", help="the API (default: the only one)")
    routes.add_argument("--stage", metavar="NAME", help="show what this stage serves")

    deploy = subparsers.add_parser(
        "deploy",
        parents=[connection],
        help="deploy an API to a stage",
        description="Snapshot the API's routes and integrations and make STAGE serve them (CreateDeployment).",
    )
    deploy.add_argument("api", metavar="API", help="name or id of the API")
    deploy.add_argument("stage", metavar="STAGE", help="the stage to deploy to")
    deploy.add_argument("--description", default=None, help="the deployment's description")

    export = subparsers.add_parser(
        "export",
        parents=[connection],
        help="print an API as an OpenAPI 3.0 document",
        description="Export an API as OpenAPI 3.0 (ExportApi), with API Gateway's x-amazon-apigateway extensions.",
    )
    export.add_argument("api", metavar="API", help="name or id of the API")
    export.add_argument("--stage", metavar="NAME", help="export what this stage serves (default: the current configuration)")
    export.add_argument("--format", choices=("json", "yaml"), default="yaml", help="output format (default yaml)")
    export.add_argument("--output", "-o", type=Path, metavar="FILE", help="write to FILE instead of stdout")
    export.add_argument(
        "--no-extensions", action="store_true", help="leave out the x-amazon-apigateway-* extensions"
    )

    import_ = subparsers.add_parser(
        "import",
        parents=[connection],
        help="create an API from an OpenAPI file",
        description="Create an HTTP API from an OpenAPI 3.0 (JSON or YAML) file (ImportApi).",
    )
    import_.add_argument("file", type=Path, metavar="FILE", help="the OpenAPI document")
    import_.add_argument("--fail-on-warnings", action="store_true", help="refuse the file if it has warnings")

    invoke = subparsers.add_parser(
        "invoke",
        parents=[connection],
        help="invoke a function and print its result",
        description="Invoke a function (Lambda Invoke, RequestResponse) and print its response payload. "
        "Exits with status 1 when the function fails.",
    )
    invoke.add_argument("function", metavar="FUNCTION", help="name or ARN of the function")
    invoke.add_argument("--payload", default="{}", metavar="JSON|@FILE", help="the event (default {})")
    invoke.add_argument("--log", action="store_true", help="print the end of the function's log to stderr")


def run(args: argparse.Namespace, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the command `args.command`; the process exit status."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    command = _COMMANDS[args.command]
    try:
        with admin_endpoint(args) as endpoint:
            return command(endpoint, args, out, err)
    except CommandError as error:
        print(f"stageway {args.command}: {error}", file=err)
        return 1


# --------------------------------------------------------------------------------------------------
# Where the calls go


@dataclass(frozen=True)
class Endpoint:
    url: str
    access_key: str
    secret_key: str
    region: str
    local: bool = False
    """True when the admin API is served in this process over `--store`."""

    def client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=930),
        )

    def call(self, service: str, operation: str, **params: Any) -> Any:
        """One boto3 call, its failures turned into one-line `CommandError`s."""
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

        try:
            return getattr(self.client(service), operation)(**params)
        except EndpointConnectionError:
            raise CommandError(
                f"cannot reach the stageway admin listener at {self.url}: is `stageway serve` running "
                "(its admin port is 8081 unless --admin-port says otherwise)? Use --endpoint-url to point "
                "elsewhere, or --store to work on a store directly."
            ) from None
        except ClientError as error:
            details = error.response.get("Error", {})
            raise CommandError(f"{details.get('Code', 'Error')}: {details.get('Message', '')}") from None
        except BotoCoreError as error:
            raise CommandError(str(error)) from None


@contextmanager
def admin_endpoint(args: argparse.Namespace) -> Iterator[Endpoint]:
    if args.store:
        with _local_admin(args.store, args.region) as endpoint:
            yield endpoint
        return
    access_key, secret_key = _credentials(args.admin_credentials)
    yield Endpoint(args.endpoint_url.rstrip("/"), access_key, secret_key, args.region)


def _credentials(text: str | None) -> tuple[str, str]:
    """`--admin-credentials`' first key, else what boto3 would sign with, else the dummy pair."""
    if text:
        from stageway.control.auth import CredentialsError, parse_credentials

        try:
            key, secret = next(iter(parse_credentials(text).items()))
        except CredentialsError as error:
            raise CommandError(str(error)) from None
        return key, secret
    import boto3

    found = boto3.Session().get_credentials()
    if found is not None:
        frozen = found.get_frozen_credentials()
        if frozen.access_key and frozen.secret_key:
            return frozen.access_key, frozen.secret_key
    return DUMMY_CREDENTIALS


@contextmanager
def _local_admin(store_url: str, region: str) -> Iterator[Endpoint]:
    """The store's admin API, served in a thread on a private loopback port with one-time credentials."""
    import asyncio
    import secrets
    import socket
    import threading

    import uvicorn

    from stageway.server.admin import build_admin_app
    from stageway.server.serve import Node, ServeOptions

    key, secret = "SW" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30)
    options = ServeOptions(store_url=store_url, region=region, admin_credentials=f"{key}:{secret}")
    try:
        node = Node(options)
    except (OSError, ValueError) as error:  # unreadable file, unsupported URL, ...
        raise CommandError(f"cannot open the store {store_url}: {error}") from None
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    class QuietServer(uvicorn.Server):
        """Leaves the process's signal handlers alone: it runs in a thread and stops when told to."""

        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    server = QuietServer(uvicorn.Config(build_admin_app(node), lifespan="off", access_log=False, log_level="warning"))
    failure: list[BaseException] = []

    async def serve() -> None:
        node.refresh()  # the store's functions, for `invoke`
        try:
            await server.serve(sockets=[listener])
        finally:
            await node.runtime.close()

    def main() -> None:
        try:
            asyncio.run(serve())
        except Exception as error:  # noqa: BLE001 - the caller reports it, in one line
            failure.append(error)

    thread = threading.Thread(target=main, name="stageway-local-admin", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        thread.join(0.01)
    try:
        if not server.started:
            raise CommandError(f"could not serve the store's admin API: {failure[0] if failure else 'unknown'}")
        yield Endpoint(f"http://127.0.0.1:{port}", key, secret, region, local=True)
    finally:
        server.should_exit = True
        thread.join(30)
        listener.close()
        node.store.close()


# --------------------------------------------------------------------------------------------------
# Commands


def routes_command(endpoint: Endpoint, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    api = resolve_api(endpoint, args.api)
    if args.stage:
        stage = endpoint.call("apigatewayv2", "get_stage", ApiId=api["ApiId"], StageName=args.stage)
        if not stage.get("DeploymentId"):
            print(f"API {api['Name']} (id {api['ApiId']}), stage {args.stage}: not deployed yet", file=out)
            return 0
        rows = _served_routes(endpoint, api["ApiId"], args.stage)
        auto = ", auto-deploy" if stage.get("AutoDeploy") else ""
        title = f"API {api['Name']} (id {api['ApiId']}), stage {args.stage} (deployment {stage['DeploymentId']}{auto})"
    else:
        rows = _current_routes(endpoint, api["ApiId"])
        title = f"API {api['Name']} (id {api['ApiId']}), current configuration"
    print(title, file=out)
    print(format_route_table(rows), file=out)
    return 0


def deploy_command(endpoint: Endpoint, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    api = resolve_api(endpoint, args.api)
    params: dict[str, Any] = {"ApiId": api["ApiId"], "StageName": args.stage}
    if args.description:
        params["Description"] = args.description
    deployment = endpoint.call("apigatewayv2", "create_deployment", **params)
    print(
        f"deployed API {api['Name']} (id {api['ApiId']}) to stage {args.stage}: "
        f"deployment {deployment['DeploymentId']}",
        file=out,
    )
    return 0


def export_command(endpoint: Endpoint, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    api = resolve_api(endpoint, args.api)
    params: dict[str, Any] = {
        "ApiId": api["ApiId"],
        "Specification": "OAS30",
        "OutputType": args.format.upper(),
        "IncludeExtensions": not args.no_extensions,
    }
    if args.stage:
        params["StageName"] = args.stage
    body = endpoint.call("apigatewayv2", "export_api", **params)["body"].read()
    if args.output:
        try:
            args.output.write_bytes(body)
        except OSError as error:
            raise CommandError(f"cannot write {args.output}: {error.strerror}") from None
        print(f"wrote {args.output}", file=err)
    else:
        text = body.decode("utf-8")
        out.write(text if text.endswith("\n") else text + "\n")
    return 0


def import_command(endpoint: Endpoint, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        body = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read {args.file}: {error}") from None
    params: dict[str, Any] = {"Body": body}
    if args.fail_on_warnings:
        params["FailOnWarnings"] = True
    api = endpoint.call("apigatewayv2", "import_api", **params)
    for warning in api.get("Warnings") or []:
        print(f"warning: {warning}", file=err)
    print(f"imported API {api.get('Name', '')} (id {api['ApiId']}) from {args.file}", file=out)
    return 0


def invoke_command(endpoint: Endpoint, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import base64

    payload = args.payload
    if payload.startswith("@"):
        try:
            payload = Path(payload[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"cannot read {payload[1:]}: {error}") from None
    response = endpoint.call(
        "lambda",
        "invoke",
        FunctionName=args.function,
        Payload=payload.encode(),
        LogType="Tail" if args.log else "None",
    )
    if args.log and response.get("LogResult"):
        err.write(base64.b64decode(response["LogResult"]).decode("utf-8", "replace"))
    result = response["Payload"].read().decode("utf-8", "replace")
    out.write(result + "\n")
    if response.get("FunctionError"):
        print(f"the function failed ({response['FunctionError']})", file=err)
        return 1
    return 0


_COMMANDS: dict[str, Callable[[Endpoint, argparse.Namespace, TextIO, TextIO], int]] = {
    "routes": routes_command,
    "deploy": deploy_command,
    "export": export_command,
    "import": import_command,
    "invoke": invoke_command,
}


# --------------------------------------------------------------------------------------------------
# APIs and route tables


def resolve_api(endpoint: Endpoint, wanted: str | None) -> dict[str, Any]:
    """The API with this id or name; without one, the only API there is."""
    apis = _all_items(endpoint, "get_apis")
    if wanted is None:
        if len(apis) == 1:
            return apis[0]
        if not apis:
            raise CommandError("there are no APIs")
        names = ", ".join(f"{api['Name']} ({api['ApiId']})" for api in apis)
        raise CommandError(f"there are {len(apis)} APIs, say which with --api: {names}")
    by_id = [api for api in apis if api["ApiId"] == wanted]
    if by_id:
        return by_id[0]
    by_name = [api for api in apis if api.get("Name") == wanted]
    if len(by_name) == 1:
        return by_name[0]
    if by_name:
        ids = ", ".join(api["ApiId"] for api in by_name)
        raise CommandError(f"{len(by_name)} APIs are named {wanted!r}; use an id instead: {ids}")
    raise CommandError(f"no API has the name or id {wanted!r}")


def _all_items(endpoint: Endpoint, operation: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = None
    while True:
        page = endpoint.call("apigatewayv2", operation, **params, **({"NextToken": token} if token else {}))
        items.extend(page.get("Items", []))
        token = page.get("NextToken")
        if not token:
            return items


@dataclass(frozen=True)
class RouteRow:
    route_key: str
    integration_type: str
    target: str


def _current_routes(endpoint: Endpoint, api_id: str) -> list[RouteRow]:
    integrations = {
        item["IntegrationId"]: item for item in _all_items(endpoint, "get_integrations", ApiId=api_id)
    }
    rows = []
    for route in _all_items(endpoint, "get_routes", ApiId=api_id):
        target = route.get("Target") or ""
        integration = integrations.get(target.removeprefix("integrations/")) if target else None
        if integration is None:
            rows.append(RouteRow(route["RouteKey"], "-", target or "-"))
        else:
            rows.append(
                RouteRow(
                    route["RouteKey"],
                    integration.get("IntegrationType", ""),
                    describe_target(
                        integration.get("IntegrationType", ""),
                        integration.get("IntegrationUri"),
                        integration.get("IntegrationMethod"),
                        integration.get("IntegrationSubtype"),
                    ),
                )
            )
    return rows


def _served_routes(endpoint: Endpoint, api_id: str, stage: str) -> list[RouteRow]:
    # AWS offers no "routes of a deployment" call; ExportApi with a stage name exports exactly that.
    body = endpoint.call(
        "apigatewayv2", "export_api", ApiId=api_id, Specification="OAS30", OutputType="JSON", StageName=stage
    )["body"].read()
    return routes_of_openapi(json.loads(body))


ANY_METHOD = "x-amazon-apigateway-any-method"
INTEGRATION = "x-amazon-apigateway-integration"
_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


def routes_of_openapi(document: dict[str, Any]) -> list[RouteRow]:
    """The route table an exported OpenAPI document describes (API Gateway's export conventions)."""
    shared = (document.get("components") or {}).get("x-amazon-apigateway-integrations") or {}
    rows = []
    for path, item in (document.get("paths") or {}).items():
        for key, operation in item.items():
            if key != ANY_METHOD and key not in _HTTP_METHODS:
                continue
            method = "ANY" if key == ANY_METHOD else key.upper()
            route_key = "$default" if path == "/$default" else f"{method} {path}"
            integration = operation.get(INTEGRATION) or {}
            if "$ref" in integration:
                integration = shared.get(str(integration["$ref"]).rsplit("/", 1)[-1], {})
            kind = str(integration.get("type", "")).upper()
            rows.append(
                RouteRow(
                    route_key,
                    kind or "-",
                    describe_target(kind, integration.get("uri"), integration.get("httpMethod"),
                                    integration.get("integrationSubtype")) if kind else "-",
                )
            )
    return rows


def describe_target(kind: str, uri: str | None, method: str | None, subtype: str | None) -> str:
    """`function NAME` for a Lambda, `METHOD URL` for an HTTP backend, the subtype for an AWS service."""
    from stageway.core.validation import parse_lambda_arn

    if subtype:
        return subtype
    if not uri:
        return "-"
    if kind == "AWS_PROXY":
        arn = parse_lambda_arn(uri)
        if arn is not None:
            return f"function {arn.name}" + (f":{arn.qualifier}" if arn.qualifier else "")
        return uri
    return f"{method} {uri}" if method else uri


def format_route_table(rows: list[RouteRow]) -> str:
    if not rows:
        return "(no routes)"

    def order(row: RouteRow) -> tuple[int, str, str]:
        if row.route_key == "$default":
            return (1, "", "")
        method, _, path = row.route_key.partition(" ")
        return (0, path, method)

    table = [("ROUTE", "INTEGRATION", "TARGET")] + [
        (row.route_key, row.integration_type, row.target) for row in sorted(rows, key=order)
    ]
    widths = [max(len(line[column]) for line in table) for column in range(2)]
    return "\n".join(
        f"{line[0]:<{widths[0]}}  {line[1]:<{widths[1]}}  {line[2]}".rstrip() for line in table
    )
