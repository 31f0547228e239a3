"""The `stageway` command. Parses arguments and calls into the package; holds no logic of its own."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from stageway import __version__, cli_commands

DEFAULT_STORE = "sqlite:///.stageway/state.db"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stageway",
        description="A self-hostable gateway that serves HTTP APIs the way AWS API Gateway does.",
    )
    parser.add_argument("--version", action="version", version=f"stageway {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve the APIs of one or more YAML files",
        description=(
            "Load FILEs (YAML API definitions), apply them to the store, and serve every deployed stage. "
            "An invalid file is refused before anything is served."
        ),
    )
    serve.add_argument("files", nargs="*", type=Path, metavar="FILE", help="YAML API definition files")
    serve.add_argument("--host", default="127.0.0.1", help="address of the public listener (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port of the public listener (default 8080)")
    serve.add_argument(
        "--default-api",
        metavar="NAME|ID",
        help="the API served for hosts that name none (default: the only API, if there is one)",
    )
    serve.add_argument(
        "--store",
        default=os.environ.get("STAGEWAY_STORE", DEFAULT_STORE),
        metavar="URL",
        help=f"where state lives: sqlite:///PATH, postgresql://USER@HOST:PORT/DB (shared by several nodes) or "
        f"memory:// (default {DEFAULT_STORE}, env STAGEWAY_STORE)",
    )
    serve.add_argument(
        "--admin-host", default="127.0.0.1", help="address of the admin listener (default: loopback only)"
    )
    serve.add_argument(
        "--admin-port",
        type=int,
        default=8081,
        help="port of the admin listener speaking apigatewayv2 and Lambda's API (default 8081)",
    )
    serve.add_argument("--no-admin", action="store_true", help="do not start the admin listener")
    serve.add_argument(
        "--admin-credentials",
        default=os.environ.get("STAGEWAY_ADMIN_CREDENTIALS"),
        metavar="KEY:SECRET[,KEY:SECRET]",
        help="require admin requests signed (AWS SigV4) with one of these keys (env STAGEWAY_ADMIN_CREDENTIALS)",
    )
    serve.add_argument(
        "--iam-credentials",
        default=os.environ.get("STAGEWAY_IAM_CREDENTIALS"),
        metavar="KEY:SECRET[,KEY:SECRET]",
        help="keys whose SigV4 signatures AWS_IAM routes accept (env STAGEWAY_IAM_CREDENTIALS; "
        "default: the admin credentials)",
    )
    serve.add_argument(
        "--throttle",
        default=os.environ.get("STAGEWAY_THROTTLE"),
        metavar="URL",
        help="where throttling buckets live: memory:// (default, this process) or redis://HOST:PORT/DB "
        "(shared by every node; env STAGEWAY_THROTTLE)",
    )
    serve.add_argument(
        "--account-rate", type=float, metavar="RPS", help="account-level throttling rate (AWS's default 10000)"
    )
    serve.add_argument(
        "--account-burst", type=int, metavar="N", help="account-level throttling burst (AWS's default 5000)"
    )
    serve.add_argument(
        "--log-dir",
        type=Path,
        default=Path(".stageway/logs"),
        help="where stage access logs sent to a CloudWatch log group ARN are written (default .stageway/logs)",
    )
    serve.add_argument(
        "--aws-endpoint-url",
        default=os.environ.get("STAGEWAY_AWS_ENDPOINT_URL"),
        metavar="URL",
        help="where AWS service integrations (SQS, EventBridge, Kinesis, Step Functions, AppConfig) send their "
        "calls, one URL for every service, e.g. a local emulator (env STAGEWAY_AWS_ENDPOINT_URL; default: "
        "AWS's regional endpoints)",
    )
    serve.add_argument(
        "--lambda-endpoint-url",
        default=os.environ.get("STAGEWAY_LAMBDA_ENDPOINT_URL"),
        metavar="URL",
        help="Lambda's Invoke API for functions not defined here, e.g. https://lambda.us-east-1.amazonaws.com "
        "or another stageway's admin listener (env STAGEWAY_LAMBDA_ENDPOINT_URL; default: none)",
    )
    serve.add_argument(
        "--aws-access-key-id",
        metavar="KEY",
        help="the key that signs calls to AWS services and remote Lambda (default: env AWS_ACCESS_KEY_ID, "
        "with AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN)",
    )
    serve.add_argument("--aws-secret-access-key", metavar="SECRET", help="the secret of --aws-access-key-id")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="processes serving the data plane on one port (default 1; needs a shared store such as the "
        "default SQLite one)",
    )
    serve.add_argument("--watch", action="store_true", help="re-apply the files when they change")
    serve.add_argument("--no-access-log", action="store_true", help="do not write one line per request to stderr")
    serve.add_argument(
        "--no-proxy-lane",
        action="store_true",
        help="answer plain HTTP proxy routes through the full pipeline too (slower; the answers are the same)",
    )
    serve.add_argument(
        "--no-lambda-lane",
        action="store_true",
        help="answer plain Lambda routes through the full pipeline too (slower; the answers are the same)",
    )
    serve.add_argument(
        "--events-ahead",
        type=_events_ahead,
        default=4,
        metavar="N",
        help="when invocations queue for a busy local function whose runs are short (under 5 ms), send each of "
        "its workers up to N of them before it asks, so it starts the next without waiting for the gateway "
        "(default 4; 0: Lambda's strict hand-over)",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    validate = commands.add_parser("validate", help="check YAML files and report every problem with its line")
    validate.add_argument("files", nargs="+", type=Path, metavar="FILE")

    commands.add_parser("version", help="print the version")
    cli_commands.add_subcommands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "version":
        print(f"stageway {__version__}")
        return 0
    if args.command == "validate":
        return _validate(args.files)
    if args.command == "serve":
        return _serve(args)
    if args.command in cli_commands.COMMANDS:
        return cli_commands.run(args)
    parser.print_help()
    return 2


def _events_ahead(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100, not {value}")
    return value


def _validate(files: Sequence[Path]) -> int:
    from stageway.config.loader import ConfigError, load_config

    try:
        config = load_config(files)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"ok: {len(config.apis)} API(s), {len(config.functions)} function(s)")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from stageway.config.loader import ConfigError, load_config
    from stageway.server.log_output import configure_logging
    from stageway.server.serve import ServeOptions, serve

    configure_logging(args.log_level)
    try:
        config = load_config(args.files) if args.files else None
    except ConfigError as error:
        print(f"stageway: refusing to serve, the configuration has errors:\n{error}", file=sys.stderr)
        return 2
    from stageway.control.auth import CredentialsError, credentials_from

    for option, text in (("--admin-credentials", args.admin_credentials), ("--iam-credentials", args.iam_credentials)):
        try:
            credentials_from(text)
        except CredentialsError as error:
            print(f"stageway: {option}: {error}", file=sys.stderr)
            return 2
    if bool(args.aws_access_key_id) != bool(args.aws_secret_access_key):
        print("stageway: --aws-access-key-id and --aws-secret-access-key go together", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("stageway: --workers must be at least 1", file=sys.stderr)
        return 2
    options = ServeOptions(
        files=args.files,
        host=args.host,
        port=args.port,
        default_api=args.default_api,
        store_url=args.store,
        watch=args.watch,
        access_log=not args.no_access_log,
        proxy_lane=not args.no_proxy_lane,
        lambda_lane=not args.no_lambda_lane,
        events_ahead=args.events_ahead,
        admin_host=args.admin_host,
        admin_port=None if args.no_admin else args.admin_port,
        admin_credentials=args.admin_credentials,
        iam_credentials=args.iam_credentials,
        workers=args.workers,
        log_level=args.log_level,
        throttle_url=args.throttle,
        account_rate=args.account_rate,
        account_burst=args.account_burst,
        log_dir=args.log_dir,
        aws_endpoint_url=args.aws_endpoint_url,
        lambda_endpoint_url=args.lambda_endpoint_url,
        aws_access_key_id=args.aws_access_key_id,
        aws_secret_access_key=args.aws_secret_access_key,
    )
    if config is not None:
        options.region, options.account_id = config.region, config.account_id
    try:
        return serve(options)
    except (OSError, ValueError) as error:  # the port is taken, a bad --store or --throttle URL, ...
        print(f"stageway: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
