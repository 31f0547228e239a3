"""Load HTTP API definitions from YAML files written in AWS's own vocabulary.

`load_config(paths)` reads one or more files, checks everything AWS would check (and a few things
only a file can get wrong: typos in keys, duplicated keys, wrong types, missing code), and either
returns a `ConfigSpec` or raises `ConfigError` listing every problem found as `file:line: message`.
Nothing is served from a file that has a problem.

The format::

    region: us-east-1              # optional, default us-east-1; all files must agree
    accountId: "123456789012"      # optional, 12 digits, default 123456789012; all files must agree
    functions:                     # optional; names are unique across all files
      hello:                       # FunctionName: 1-64 of [A-Za-z0-9_-]
        runtime: python3.12        # python3.9 ... python3.13 (required)
        handler: app.handler       # MODULE.FUNCTION, dotted modules allowed (required); the module
                                   # must exist in code/ (MODULE.py, a package, or an extension)
        code: functions/hello      # a directory, relative to this YAML file (required)
        environment: {GREETING: hi}  # names [a-zA-Z][a-zA-Z0-9_]+, not Lambda's reserved ones;
                                   # a number or boolean value is kept exactly as written
                                   # (`1.10` -> "1.10", `yes` -> "yes"); null is refused
        timeout: 3                 # seconds, 1..900, default 3
        memorySize: 128            # MB, 128..10240, default 128
        reservedConcurrency: 4     # optional, >= 1
        description: ""
    apis:                          # API names are unique across all files
      petstore:                    # the API's name (1-128 characters)
        id: abcd123456             # optional, 10 of [a-z0-9]; default stable_id(name); unique
        description: ""
        disableExecuteApiEndpoint: false
        corsConfiguration:         # allowOrigins (scheme://host[:port], '*', 'https://*'), allowMethods,
                                   # allowHeaders, exposeHeaders (lists),
          allowOrigins: ["*"]      # maxAge (-1..86400), allowCredentials (not with origin *)
        tags: {team: pets}
        integrations:              # named, referenced by routes; names are [A-Za-z0-9_.-]{1,128}
          backend:
            integrationType: HTTP_PROXY                 # HTTP_PROXY | AWS_PROXY (required)
            integrationUri: http://127.0.0.1:8090/pets/{id}   # absolute http(s) URL, may hold
                                                        # ${stageVariables.x} (required)
            integrationMethod: ANY                      # default ANY (HTTP_PROXY), POST (AWS_PROXY)
            payloadFormatVersion: "1.0"                 # default 1.0 (HTTP_PROXY), 2.0 (AWS_PROXY)
            timeoutInMillis: 30000                      # 50..30000, default 30000
            description: ""
            requestParameters: {...}                    # checked as AWS does (keys, sources,
            responseParameters: {...}                   # reserved headers) when the file loads
          hello:
            integrationType: AWS_PROXY
            integrationUri: hello      # a function of any loaded file, or a Lambda function ARN
                                       # (optionally qualified, or in the apigateway
                                       # .../functions/ARN/invocations wrapper); an ARN whose
                                       # function is defined nowhere is kept: a remote Lambda
          orders-queue:                # an AWS service integration (spec §4.7): no integrationUri
            integrationType: AWS_PROXY
            integrationSubtype: SQS-SendMessage         # EventBridge-PutEvents, SQS-*, Kinesis-PutRecord,
                                                        # StepFunctions-*, AppConfig-GetConfiguration
            credentialsArn: arn:aws:iam::123456789012:role/apigw-sqs   # kept; stageway signs with its
                                                        # own keys (--aws-access-key-id, AWS_* env)
            payloadFormatVersion: "1.0"                 # default (and only value) 1.0
            requestParameters:                          # the action's parameters: every required one,
              QueueUrl: $request.header.queueUrl        # values are mapping expressions or static text
              MessageBody: $request.body
        authorizers:               # named, referenced by routes; names are [A-Za-z0-9_.-]{1,128}
          cognito:
            authorizerType: JWT                         # JWT | REQUEST (required)
            identitySource: $request.header.Authorization   # one, or a list; JWT: exactly one header or
                                                        # query parameter, default the Authorization header
            jwtConfiguration:                           # JWT only (required)
              issuer: https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example   # http(s) URL
              audience: [3n4b5urk1ft4fl3mg5e62d9ado]    # at most 50
          gate:
            authorizerType: REQUEST                     # a Lambda authorizer
            authorizerUri: gate                         # a function of any loaded file, or a Lambda
                                                        # function ARN (or its apigateway wrapper)
            authorizerPayloadFormatVersion: "2.0"       # 1.0 | 2.0 (required)
            enableSimpleResponses: true                 # 2.0 only, default false
            authorizerResultTtlInSeconds: 300           # 0..3600, default 0; > 0 needs identity sources
            identitySource: [$request.header.x-token, $context.routeKey]   # header, querystring,
                                                        # $context.x, $stageVariables.x; default none
        routes:                    # route key -> integration name, or a mapping
          GET /pets/{id}: backend
          POST /pets:
            integration: backend   # a name from integrations:, or an inline integration mapping;
                                   # absent: a route without a target
            authorizer: cognito            # a name from authorizers:
            authorizationType: JWT         # NONE | AWS_IAM | CUSTOM | JWT; default NONE, or the named
                                           # authorizer's (JWT for JWT, CUSTOM for REQUEST)
            authorizationScopes: [read]    # kept as given (at most 10)
            operationName: createPet       # kept as given
            requestParameters: {...}       # kept as given
          $default: {integration: {integrationType: HTTP_PROXY, integrationUri: "http://127.0.0.1:8090"}}
        stages:                    # absent or null: one `$default` stage with autoDeploy true;
          $default: {autoDeploy: true}     # `{}`: no stage at all
          beta:                    # `$default` or [A-Za-z0-9_-]{1,128}
            autoDeploy: false      # default false
            description: ""
            stageVariables: {color: blue}  # names [A-Za-z0-9_]+, values [A-Za-z0-9-._~:/?#&=,]+
            defaultRouteSettings: {throttlingBurstLimit: 10, throttlingRateLimit: 5.0,
                                   detailedMetricsEnabled: false}
            routeSettings: {GET /pets/{id}: {throttlingRateLimit: 1.0}}   # keys: this API's routes
            accessLogSettings: {destinationArn: "arn:aws:logs:...", format: "$context.requestId ..."}
            tags: {k: v}

    domainNames:                   # custom domain names (spec §9): a request whose Host is one of them
      api.example.com:             # is routed by its API mappings; `*.example.com` wildcards the first label
        mappings:                  # apiMappingKey -> the API (a name under apis:) and one of its stages
          "": {api: petstore}              # the catch-all `(none)` mapping; stage defaults to $default
          orders/v1: {api: petstore, stage: beta}

Strings may be written as numbers or booleans; the text as written is used (`payloadFormatVersion:
2.0` is "2.0"). Integers and booleans must be written as such (`timeout: "3"` is refused). YAML
anchors, aliases and merge keys (`<<: *defaults`) work; other tags (`!Ref`) are refused.
"""

from __future__ import annotations

import difflib
import glob
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stageway.auth.identity_sources import JWT_DEFAULT_IDENTITY_SOURCE
from stageway.auth.plan import AUTHORIZER_TYPES, authorizer_errors
from stageway.config.openapi_source import is_openapi_document, openapi_api
from stageway.config.spec import (
    ApiMappingSpec,
    ApiSpec,
    AuthorizerSpec,
    ConfigError,
    ConfigProblem,
    ConfigSpec,
    DomainSpec,
    FunctionSpec,
    IntegrationSpec,
    RouteSpec,
    SourceLocation,
    StageSpec,
)
from stageway.config.yaml_source import (
    DuplicateKey,
    YamlMap,
    YamlSyntaxError,
    describe,
    parse_yaml,
    to_plain,
)
from stageway.core.ids import stable_id
from stageway.core.route_keys import RouteKey, RouteKeyError, parse_route_key
from stageway.core.validation import (
    ACCESS_LOG_FIELDS,
    CORS_FIELDS,
    DEFAULT_FUNCTION_TIMEOUT_S,
    DEFAULT_MEMORY_MB,
    DEFAULT_STAGE_NAME,
    DEFAULT_TIMEOUT_MS,
    FUNCTION_NAME,
    PYTHON_RUNTIMES,
    ROUTE_SETTINGS_FIELDS,
    ConflictError,
    ErrorCollector,
    Field,
    NotFoundError,
    ValidationError,
    api_errors,
    check_route_key_conflicts,
    environment_errors,
    integration_errors,
    lambda_function_arn,
    parse_lambda_arn,
    route_errors,
    stage_errors,
    validate_api_mapping_key,
    validate_domain_name,
    validate_function_name,
    validate_function_timeout,
    validate_handler,
    validate_memory_size,
    validate_reserved_concurrency,
    validate_route_settings_keys,
    validate_runtime,
)

__all__ = ["ConfigError", "ConfigProblem", "load_config"]

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
API_ID = re.compile(r"^[a-z0-9]{10}$")
INTEGRATION_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
INLINE_INTEGRATION_PREFIX = "inline:"  # cannot clash with INTEGRATION_NAME
# `{GET /pets/{id}: x}`: YAML reads the `{` of `{id}` as the start of a nested flow mapping.
_UNQUOTED_FLOW_ROUTE_KEY = re.compile(r"\{[^\"']*\b[A-Z]+ /[^\s:\"']*\{")

TOP_LEVEL_KEYS = ("region", "accountId", "functions", "apis", "domainNames")
API_MAPPING_KEYS = ("api", "stage")
FUNCTION_KEYS = (
    "runtime",
    "handler",
    "code",
    "environment",
    "timeout",
    "memorySize",
    "reservedConcurrency",
    "description",
)
API_KEYS = (
    "id",
    "description",
    "disableExecuteApiEndpoint",
    "corsConfiguration",
    "tags",
    "integrations",
    "authorizers",
    "routes",
    "stages",
)
INTEGRATION_KEYS = (
    "integrationType",
    "integrationSubtype",
    "integrationUri",
    "integrationMethod",
    "payloadFormatVersion",
    "timeoutInMillis",
    "credentialsArn",
    "description",
    "requestParameters",
    "responseParameters",
)
AUTHORIZER_KEYS = (
    "authorizerType",
    "identitySource",
    "jwtConfiguration",
    "authorizerUri",
    "authorizerPayloadFormatVersion",
    "enableSimpleResponses",
    "authorizerResultTtlInSeconds",
)
JWT_CONFIGURATION_KEYS = ("issuer", "audience")
ROUTE_KEYS = (
    "integration",
    "authorizer",
    "authorizationType",
    "authorizationScopes",
    "operationName",
    "requestParameters",
)
STAGE_KEYS = (
    "autoDeploy",
    "description",
    "stageVariables",
    "defaultRouteSettings",
    "routeSettings",
    "accessLogSettings",
    "tags",
)
# The authorizationType a route gets from the type of the authorizer it names.
_AUTHORIZATION_TYPE_OF = {"JWT": "JWT", "REQUEST": "CUSTOM"}
# Lambda's field names in validation messages -> the keys of this file format.
_FUNCTION_FIELD_KEYS = {"reservedConcurrentExecutions": "reservedConcurrency"}


def load_config(paths: Sequence[str | Path]) -> ConfigSpec:
    """Read, merge and check the files; raises ConfigError with every problem found."""
    problems: list[ConfigProblem] = []
    files = [_SourceFile.read(Path(path), problems) for path in paths]
    readable = [file for file in files if file is not None and not is_openapi_document(file.root)]
    documents = [file for file in files if file is not None and is_openapi_document(file.root)]
    region, account_id = _account(readable)
    functions, function_names = _functions(readable)
    apis = _apis(readable, region, account_id, function_names)
    taken = {api.name: api.location for api in apis} | {api.api_id: api.location for api in apis}
    for document in documents:
        api = openapi_api(
            Path(document.name), to_plain(document.root), region=region, account_id=account_id, problems=problems
        )
        if api is None:
            continue
        clash = taken.get(api.name) or taken.get(api.api_id)
        if clash is not None:
            document.report(1, f"API {api.name!r} (from info.title) is already defined at {clash}")
            continue
        taken[api.name] = taken[api.api_id] = api.location
        apis.append(api)
    domains = _domains(readable, apis)
    if problems:
        order = {str(path): index for index, path in enumerate(paths)}
        problems.sort(key=lambda problem: (order.get(problem.file, len(order)), problem.line))
        raise ConfigError(problems)
    return ConfigSpec(region, account_id, tuple(functions), tuple(apis), tuple(domains))


@dataclass
class _SourceFile:
    """One parsed file and the means to report problems in it."""

    name: str
    directory: Path
    root: YamlMap
    problems: list[ConfigProblem]

    @classmethod
    def read(cls, path: Path, problems: list[ConfigProblem]) -> _SourceFile | None:
        name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problems.append(ConfigProblem(name, 1, "the file is not UTF-8 text"))
            return None
        except OSError as error:
            problems.append(ConfigProblem(name, 1, f"cannot read the file: {error.strerror or error}"))
            return None
        try:
            parsed = parse_yaml(text)
        except YamlSyntaxError as error:
            lines = text.splitlines()
            source = lines[error.line - 1] if error.line <= len(lines) else ""
            hint = ""
            if _UNQUOTED_FLOW_ROUTE_KEY.search(source):
                hint = '; inside { } a route key with {variables} must be quoted, like "GET /pets/{id}"'
            problems.append(ConfigProblem(name, error.line, f"YAML syntax error: {error.message}{hint}"))
            return None
        file = cls(name, path.absolute().parent, YamlMap(1), problems)
        for issue in parsed.issues:
            file.report(issue.line, issue.message)
        for duplicate in parsed.duplicates:
            file.report(duplicate.line, _duplicate_message(duplicate))
        if isinstance(parsed.value, YamlMap):
            file.root = parsed.value
        elif parsed.value is not None:
            file.report(
                1, f"the file must be a mapping with apis: and functions:, got {describe(parsed.value)}"
            )
        if not is_openapi_document(file.root):  # an OpenAPI document is checked by AWS's importer instead
            file.check_keys(file.root, TOP_LEVEL_KEYS, "top level")
        return file

    def report(self, line: int, message: str) -> None:
        self.problems.append(ConfigProblem(self.name, line, message))

    # Typed access to a mapping's entries: a wrong type is reported (at the value) and reads as absent.

    def mapping(self, parent: YamlMap, key: str, where: str) -> YamlMap | None:
        value = parent.get(key)
        if value is None or isinstance(value, YamlMap):
            return value
        self.report(parent.key_line(key), f"{where}: {key} must be a mapping, got {describe(value)}")
        return None

    def string(self, parent: YamlMap, key: str, where: str) -> str | None:
        if key not in parent:
            return None
        value = parent[key]
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)):  # bool included: the text as written ("2.0", "yes")
            return parent.texts[key]
        self.report(parent.key_line(key), f"{where}: {key} must be a string, got {describe(value)}")
        return None

    def integer(self, parent: YamlMap, key: str, where: str, what: str) -> int | None:
        if key not in parent:
            return None
        value = parent[key]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        self.report(
            parent.key_line(key),
            f"{where}: {key} must be {what}, got {describe(value, parent.texts.get(key))}",
        )
        return None

    def boolean(self, parent: YamlMap, key: str, where: str) -> bool | None:
        if key not in parent:
            return None
        value = parent[key]
        if isinstance(value, bool):
            return value
        self.report(
            parent.key_line(key),
            f"{where}: {key} must be true or false, got {describe(value, parent.texts.get(key))}",
        )
        return None

    def string_map(self, parent: YamlMap, key: str, where: str) -> dict[str, str] | None:
        """A map of names to strings; numbers and booleans keep the text they were written with."""
        mapping = self.mapping(parent, key, where)
        if mapping is None:
            return None
        result = {}
        for name, value in mapping.items():
            if isinstance(value, str):
                result[name] = value
            elif isinstance(value, (int, float)):
                result[name] = mapping.texts[name]
            else:
                self.report(
                    mapping.key_line(name), f"{where}: {key} {name!r} must be a string, got {describe(value)}"
                )
        return result

    def string_list(self, parent: YamlMap, key: str, where: str) -> list[str] | None:
        if key not in parent:
            return None
        value = parent[key]
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return list(value)
        self.report(parent.key_line(key), f"{where}: {key} must be a list of strings, got {describe(value)}")
        return None

    def check_keys(self, mapping: YamlMap, allowed: Sequence[str], where: str) -> None:
        """Unknown keys are errors, with a suggestion: a typo must never be silently ignored."""
        for key in mapping:
            if key not in allowed:
                self.report(mapping.key_line(key), f"{where}: unknown key {key!r}{_suggestion(key, allowed)}")

    def report_errors(
        self,
        errors: list[ValidationError],
        where: str,
        mapping: YamlMap,
        line: int,
        field_keys: dict[str, str] | None = None,
        hints: dict[Field, str] | None = None,
    ) -> None:
        """Report validation errors at the line of the field at fault (or `line` when it is absent)."""
        for error in errors:
            path = error.field
            if path and field_keys and path[0] in field_keys:
                path = (field_keys[path[0]], *path[1:])
            hint = (hints or {}).get(error.field, "")
            self.report(_field_line(mapping, path, line), f"{where}: {error.message}{hint}")


def _field_line(mapping: YamlMap, path: Field, default: int) -> int:
    line, current = default, mapping
    for key in path:
        if not isinstance(current, YamlMap) or key not in current:
            break
        line, current = current.key_line(key), current[key]
    return line


def _has_module(code_dir: Path, handler: str) -> bool:
    """Whether the handler's module is importable from the code directory, as Lambda's runtime would."""
    module = code_dir.joinpath(*handler.split(".")[:-1])
    if module.with_name(module.name + ".py").is_file() or module.is_dir():
        return True
    extensions = (".so", ".pyd", ".pyc")
    return module.parent.is_dir() and any(
        path.suffix in extensions for path in module.parent.glob(glob.escape(module.name) + ".*")
    )


def _suggestion(word: str, choices: Sequence[str]) -> str:
    by_lowercase = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(word.lower(), list(by_lowercase), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {by_lowercase[close[0]]!r}?)"
    return f"; expected one of: {', '.join(choices)}" if len(choices) <= 12 else ""


def _duplicate_message(duplicate: DuplicateKey) -> str:
    if len(duplicate.path) == 3 and duplicate.path[0] == "apis" and duplicate.path[2] == "routes":
        # AWS's 409 for a second route with the same key (spec §1.3).
        return (
            f"API {duplicate.path[1]!r}: Route with key {duplicate.key} already exists for this API "
            f"(first given on line {duplicate.first_line})"
        )
    where = " > ".join(duplicate.path) if duplicate.path else "the top level"
    return f"duplicate key {duplicate.key!r} in {where} (first given on line {duplicate.first_line})"


def _account(files: list[_SourceFile]) -> tuple[str, str]:
    chosen: dict[str, tuple[str, SourceLocation]] = {}
    for file in files:
        for key, pattern, example in (
            ("region", REGION, "like us-east-1"),
            ("accountId", ACCOUNT_ID, 'of 12 digits, like "123456789012"'),
        ):
            value = file.string(file.root, key, "top level")
            if value is None:
                continue
            line = file.root.key_line(key)
            if not pattern.match(value):
                file.report(line, f"{key} must be {example}, got {value!r}")
            elif key in chosen and chosen[key][0] != value:
                first, where = chosen[key]
                file.report(
                    line, f"{key} {value!r} differs from {first!r} given at {where}; all files must agree"
                )
            else:
                chosen.setdefault(key, (value, SourceLocation(file.name, line)))
    region = chosen["region"][0] if "region" in chosen else DEFAULT_REGION
    account_id = chosen["accountId"][0] if "accountId" in chosen else DEFAULT_ACCOUNT_ID
    return region, account_id


# -------------------------------------------------------------------------------------- functions


def _functions(files: list[_SourceFile]) -> tuple[list[FunctionSpec], set[str]]:
    """The valid functions, and the names of all functions given (valid or not)."""
    specs: list[FunctionSpec] = []
    seen: dict[str, SourceLocation] = {}
    for file in files:
        entries = file.mapping(file.root, "functions", "top level")
        if entries is None:
            continue
        for name, body in entries.items():
            location = SourceLocation(file.name, entries.key_line(name))
            where = f"function {name!r}"
            try:
                validate_function_name(name)
            except ValidationError as error:
                file.report(location.line, f"{where}: {error.message}")
            if name in seen:
                file.report(location.line, f"{where} is already defined at {seen[name]}")
                continue
            seen[name] = location
            if not isinstance(body, YamlMap):
                file.report(
                    location.line,
                    f"{where} must be a mapping with runtime, handler and code, got {describe(body)}",
                )
                continue
            spec = _function(file, name, body, location, where)
            if spec is not None:
                specs.append(spec)
    return specs, set(seen)


def _function(
    file: _SourceFile, name: str, body: YamlMap, location: SourceLocation, where: str
) -> FunctionSpec | None:
    file.check_keys(body, FUNCTION_KEYS, where)
    runtime = file.string(body, "runtime", where)
    handler = file.string(body, "handler", where)
    code = file.string(body, "code", where)
    for key, value, example in (
        ("runtime", runtime, f"one of {', '.join(PYTHON_RUNTIMES)}"),
        ("handler", handler, "MODULE.FUNCTION, like app.handler"),
        ("code", code, "the directory of the function's code, relative to this file"),
    ):
        if value is None and key not in body:
            file.report(location.line, f"{where}: {key} is required ({example})")
    environment = file.string_map(body, "environment", where) or {}
    timeout = file.integer(body, "timeout", where, "an integer number of seconds")
    memory = file.integer(body, "memorySize", where, "an integer number of megabytes")
    reserved = file.integer(body, "reservedConcurrency", where, "an integer number of concurrent executions")
    description = file.string(body, "description", where) or ""
    timeout = DEFAULT_FUNCTION_TIMEOUT_S if timeout is None else timeout
    memory = DEFAULT_MEMORY_MB if memory is None else memory

    errors = ErrorCollector()
    if runtime is not None:
        with errors:
            validate_runtime(runtime)
    if handler is not None:
        with errors:
            validate_handler(handler)
    with errors:
        validate_function_timeout(timeout)
    with errors:
        validate_memory_size(memory)
    if reserved is not None:
        with errors:
            validate_reserved_concurrency(reserved)
    errors.errors.extend(environment_errors(environment))
    file.report_errors(errors.errors, where, body, location.line, _FUNCTION_FIELD_KEYS)

    code_dir = None
    if code is not None:
        code_dir = (file.directory / code).resolve()
        if not code_dir.is_dir():
            missing = "is not a directory" if code_dir.exists() else "does not exist"
            file.report(
                body.key_line("code"),
                f"{where}: code directory {code!r} {missing} (resolved to {code_dir})",
            )
            code_dir = None
        elif handler is not None and not errors.errors and not _has_module(code_dir, handler):
            module = handler.rpartition(".")[0]
            file.report(
                body.key_line("handler"),
                f"{where}: handler module {module!r} not found in {code!r} "
                f"(expected {module.replace('.', '/')}.py or a package of that name)",
            )
    if runtime is None or handler is None or code_dir is None or errors.errors:
        return None
    return FunctionSpec(
        name=name,
        runtime=runtime,
        handler=handler,
        code_dir=code_dir,
        environment=environment,
        timeout_s=timeout,
        memory_mb=memory,
        reserved_concurrency=reserved,
        description=description,
        location=location,
    )


# ------------------------------------------------------------------------------------------- apis


def _domains(files: list[_SourceFile], apis: list[ApiSpec]) -> list[DomainSpec]:
    """`domainNames:` → custom domains and their API mappings (spec §9); every mapping names an API of the
    loaded files and one of its stages."""
    stages = {api.name: {stage.name for stage in api.stages} for api in apis}
    specs: list[DomainSpec] = []
    seen: dict[str, SourceLocation] = {}
    for file in files:
        entries = file.mapping(file.root, "domainNames", "top level")
        for name, body in (entries or {}).items():
            assert entries is not None
            location = SourceLocation(file.name, entries.key_line(name))
            where = f"domain name {name!r}"
            if name.lower() in seen:
                file.report(location.line, f"{where} is already defined at {seen[name.lower()]}")
                continue
            seen[name.lower()] = location
            with ErrorCollector() as errors:
                validate_domain_name(name)
            file.report_errors(errors.errors, where, entries, location.line)
            if not isinstance(body, YamlMap):
                file.report(location.line, f"{where} must be a mapping with mappings:, got {describe(body)}")
                continue
            file.check_keys(body, ("mappings",), where)
            mappings = file.mapping(body, "mappings", where)
            found: list[ApiMappingSpec] = []
            for key, target in (mappings or {}).items():
                assert mappings is not None
                line = mappings.key_line(key)
                here = f"{where}, API mapping {key!r}"
                with ErrorCollector() as errors:
                    validate_api_mapping_key(key)
                file.report_errors(errors.errors, here, mappings, line)
                if not isinstance(target, YamlMap):
                    file.report(line, f"{here} must be a mapping with api: and stage:, got {describe(target)}")
                    continue
                file.check_keys(target, API_MAPPING_KEYS, here)
                api_name = file.string(target, "api", here)
                stage = file.string(target, "stage", here) or "$default"
                if api_name is None:
                    file.report(line, f"{here}: api is required (the name of an API under apis:)")
                    continue
                if api_name not in stages:
                    file.report(
                        target.key_line("api"),
                        f"{here}: no API named {api_name!r}{_suggestion(api_name, sorted(stages))}",
                    )
                    continue
                if stage not in stages[api_name]:
                    # [OBS] AWS's answer to a mapping to a missing stage (serverless-domain-manager#589).
                    file.report(target.key_line("stage", line), f"{here}: Invalid stage identifier specified ({stage!r})")
                    continue
                found.append(ApiMappingSpec(key, api_name, stage, SourceLocation(file.name, line)))
            specs.append(DomainSpec(name, tuple(found), location))
    return specs


def _apis(files: list[_SourceFile], region: str, account_id: str, function_names: set[str]) -> list[ApiSpec]:
    specs: list[ApiSpec] = []
    names: dict[str, SourceLocation] = {}
    ids: dict[str, tuple[str, SourceLocation]] = {}
    for file in files:
        entries = file.mapping(file.root, "apis", "top level")
        if entries is None:
            continue
        for name, body in entries.items():
            location = SourceLocation(file.name, entries.key_line(name))
            where = f"API {name!r}"
            if name in names:
                file.report(location.line, f"{where} is already defined at {names[name]}")
                continue
            names[name] = location
            if body is None:
                body = YamlMap(location.line)
            if not isinstance(body, YamlMap):
                file.report(location.line, f"{where} must be a mapping, got {describe(body)}")
                continue
            api_id = file.string(body, "id", where)
            if api_id is not None and not API_ID.match(api_id):
                file.report(
                    body.key_line("id"),
                    f"{where}: id must be 10 lowercase letters or digits, got {api_id!r}",
                )
            api_id = api_id if api_id is not None and API_ID.match(api_id) else stable_id(name)
            if api_id in ids:
                other, other_location = ids[api_id]
                file.report(
                    body.key_line("id", location.line),
                    f"{where}: API id {api_id!r} is already used by API {other!r} at {other_location}",
                )
            ids.setdefault(api_id, (name, location))
            context = _ApiContext(file, name, region, account_id, function_names)
            specs.append(context.load(api_id, body, location))
    return specs


@dataclass
class _ApiContext:
    """Loads one API's integrations, routes and stages."""

    file: _SourceFile
    api: str
    region: str
    account_id: str
    function_names: set[str]

    def load(self, api_id: str, body: YamlMap, location: SourceLocation) -> ApiSpec:
        file, where = self.file, f"API {self.api!r}"
        file.check_keys(body, API_KEYS, where)
        fields: dict[str, Any] = {"name": self.api, "protocolType": "HTTP"}
        description = file.string(body, "description", where)
        if description is not None:
            fields["description"] = description
        fields["disableExecuteApiEndpoint"] = bool(file.boolean(body, "disableExecuteApiEndpoint", where))
        cors = file.mapping(body, "corsConfiguration", where)
        if cors is not None:
            file.check_keys(cors, CORS_FIELDS, f"{where}, corsConfiguration")
            fields["corsConfiguration"] = to_plain(cors)
        tags = file.string_map(body, "tags", where)
        if tags is not None:
            fields["tags"] = tags
        file.report_errors(api_errors(fields), where, body, location.line)

        integrations = self.integrations(body)
        declared = {integration.name for integration in integrations} | self._declared_integration_names(body)
        authorizers = self.authorizers(body)
        routes = self.routes(body, declared, integrations, self._declared_authorizer_types(body))
        stages = self.stages(body, location, {route.route_key for route in routes})
        return ApiSpec(
            self.api,
            api_id,
            fields,
            tuple(integrations),
            tuple(routes),
            tuple(stages),
            location,
            tuple(authorizers),
        )

    def _declared_integration_names(self, body: YamlMap) -> set[str]:
        entries = body.get("integrations")
        return set(entries) if isinstance(entries, YamlMap) else set()

    def _declared_authorizer_types(self, body: YamlMap) -> dict[str, str | None]:
        """Every authorizer name given (valid or not) and its authorizerType when that is readable, so that
        a route naming a broken authorizer is not also reported as naming a missing one."""
        entries = body.get("authorizers")
        if not isinstance(entries, YamlMap):
            return {}
        return {
            name: entry.get("authorizerType") if isinstance(entry, YamlMap) else None
            for name, entry in entries.items()
        }

    # ------------------------------------------------------------------------------------- authorizers

    def authorizers(self, body: YamlMap) -> list[AuthorizerSpec]:
        return [
            spec
            for name, entry, line, where in self._named_entries(body, "authorizers", "authorizer", "authorizerType")
            if (spec := self.authorizer(name, entry, line, where)) is not None
        ]

    def _named_entries(
        self, body: YamlMap, section: str, kind: str, needs: str
    ) -> Iterator[tuple[str, YamlMap, int, str]]:
        """The entries of a section of named mappings (`integrations:`, `authorizers:`), each with its line
        and how problems name it; a bad name or a non-mapping entry is reported and skipped."""
        file = self.file
        entries = file.mapping(body, section, f"API {self.api!r}")
        for name, entry in (entries or YamlMap(0)).items():
            assert entries is not None
            line = entries.key_line(name)
            where = f"API {self.api!r}, {kind} {name!r}"
            if not INTEGRATION_NAME.match(name):
                file.report(line, f"{where}: an {kind} name may only contain letters, digits, '_', '-' and '.'")
                continue
            if not isinstance(entry, YamlMap):
                file.report(line, f"{where} must be a mapping with {needs}, got {describe(entry)}")
                continue
            yield name, entry, line, where

    def authorizer(self, name: str, body: YamlMap, line: int, where: str) -> AuthorizerSpec | None:
        file = self.file
        file.check_keys(body, AUTHORIZER_KEYS, where)
        authorizer_type = file.string(body, "authorizerType", where)
        if authorizer_type is None:
            if "authorizerType" not in body:
                file.report(line, f"{where}: authorizerType is required ({' or '.join(AUTHORIZER_TYPES)})")
            return None
        fields: dict[str, Any] = {"name": name, "authorizerType": authorizer_type}
        sources = self._identity_sources(body, where)
        if sources is None and authorizer_type == "JWT":
            sources = [JWT_DEFAULT_IDENTITY_SOURCE]
        fields["identitySource"] = sources or []
        unreadable = {key for key in ("identitySource",) if key in body and sources is None}

        jwt_config = file.mapping(body, "jwtConfiguration", where)
        if jwt_config is not None:
            file.check_keys(jwt_config, JWT_CONFIGURATION_KEYS, f"{where}, jwtConfiguration")
            config: dict[str, Any] = {}
            if (issuer := file.string(jwt_config, "issuer", f"{where}, jwtConfiguration")) is not None:
                config["issuer"] = issuer
            audience = file.string_list(jwt_config, "audience", f"{where}, jwtConfiguration")
            if audience is not None:
                config["audience"] = audience
            fields["jwtConfiguration"] = config
        elif "jwtConfiguration" in body:
            unreadable.add("jwtConfiguration")

        uri = file.string(body, "authorizerUri", where)
        if uri is not None:
            fields["authorizerUri"] = self._authorizer_uri(uri, body, where, unreadable)
        elif "authorizerUri" in body:
            unreadable.add("authorizerUri")
        if (version := file.string(body, "authorizerPayloadFormatVersion", where)) is not None:
            fields["authorizerPayloadFormatVersion"] = version
        elif "authorizerPayloadFormatVersion" in body:
            unreadable.add("authorizerPayloadFormatVersion")
        if (simple := file.boolean(body, "enableSimpleResponses", where)) is not None:
            fields["enableSimpleResponses"] = simple
        ttl = file.integer(body, "authorizerResultTtlInSeconds", where, "an integer number of seconds")
        if ttl is not None:
            fields["authorizerResultTtlInSeconds"] = ttl
        elif authorizer_type == "REQUEST" and "authorizerResultTtlInSeconds" not in body:
            fields["authorizerResultTtlInSeconds"] = 0

        # A value of the wrong type was reported already; "is required" would only repeat it.
        errors = [error for error in authorizer_errors(fields) if not (error.field and error.field[0] in unreadable)]
        hints: dict[Field, str] = {
            ("authorizerUri",): " (expected a function name from functions:, "
            "arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER], or "
            "arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/invocations)",
        }
        file.report_errors(errors, where, body, line, hints=hints)
        if errors or unreadable:
            return None
        return AuthorizerSpec(name, fields, SourceLocation(file.name, line))

    def _identity_sources(self, body: YamlMap, where: str) -> list[str] | None:
        """`identitySource`: one expression or a list of them (AWS's CLI takes both)."""
        if "identitySource" not in body:
            return None
        if isinstance(body["identitySource"], str):
            return [body["identitySource"]]
        return self.file.string_list(body, "identitySource", where)

    def _authorizer_uri(self, uri: str, body: YamlMap, where: str, unreadable: set[str]) -> str:
        """A function name or a Lambda ARN, stored as AWS returns authorizerUri: the apigateway
        invocation URI of the function."""
        if FUNCTION_NAME.match(uri):
            if uri not in self.function_names:
                unreadable.add("authorizerUri")
                self.file.report(
                    body.key_line("authorizerUri"),
                    f"{where}: no function named {uri!r} in functions: of any loaded file"
                    f"{_suggestion(uri, sorted(self.function_names)) if self.function_names else ''}; "
                    "give a function name or a Lambda function ARN",
                )
                return uri
            uri = lambda_function_arn(self.region, self.account_id, uri)
        arn = parse_lambda_arn(uri)
        if arn is None:
            return uri  # reported by authorizer_errors
        return f"arn:aws:apigateway:{arn.region}:lambda:path/2015-03-31/functions/{arn.function_arn}/invocations"

    # ------------------------------------------------------------------------------------ integrations

    def integrations(self, body: YamlMap) -> list[IntegrationSpec]:
        entries = self._named_entries(body, "integrations", "integration", "integrationType and integrationUri")
        return [spec for name, entry, line, where in entries if (spec := self.integration(name, entry, line, where))]

    def integration(self, name: str, body: YamlMap, line: int, where: str) -> IntegrationSpec | None:
        file = self.file
        file.check_keys(body, INTEGRATION_KEYS, where)
        integration_type = file.string(body, "integrationType", where)
        subtype = file.string(body, "integrationSubtype", where)
        credentials = file.string(body, "credentialsArn", where)
        uri = file.string(body, "integrationUri", where)
        method = file.string(body, "integrationMethod", where)
        version = file.string(body, "payloadFormatVersion", where)
        timeout = file.integer(body, "timeoutInMillis", where, "an integer number of milliseconds")
        description = file.string(body, "description", where)
        parameters = {
            key: file.mapping(body, key, where) for key in ("requestParameters", "responseParameters")
        }
        # A value of the wrong type was reported already; AWS's "is required" would only repeat it.
        read = {"integrationUri": uri, "integrationMethod": method, "payloadFormatVersion": version}
        unreadable = {key for key, value in read.items() if value is None and key in body}
        if integration_type is None:
            if "integrationType" not in body:
                file.report(line, f"{where}: integrationType is required (HTTP_PROXY or AWS_PROXY)")
            return None

        unknown_function = False
        if integration_type == "AWS_PROXY" and uri is not None:
            if FUNCTION_NAME.match(uri):
                if uri in self.function_names:
                    uri = lambda_function_arn(self.region, self.account_id, uri)
                else:
                    unknown_function = True
                    file.report(
                        body.key_line("integrationUri"),
                        f"{where}: no function named {uri!r} in functions: of any loaded file"
                        f"{_suggestion(uri, sorted(self.function_names)) if self.function_names else ''}; "
                        "give a function name or a Lambda function ARN",
                    )
            else:
                arn = parse_lambda_arn(uri)
                if arn is not None:
                    uri = arn.function_arn  # the apigateway .../invocations wrapper is unwrapped

        fields: dict[str, Any] = {"integrationType": integration_type}
        if uri is not None:
            fields["integrationUri"] = uri
        if subtype is not None:
            fields["integrationSubtype"] = subtype
            # AWS service integrations take payload format 1.0 only (spec §1.5) and no method.
            fields["payloadFormatVersion"] = version if version is not None else "1.0"
            if method is not None:
                fields["integrationMethod"] = method
        else:
            defaults = {"HTTP_PROXY": ("ANY", "1.0"), "AWS_PROXY": ("POST", "2.0")}.get(integration_type)
            if defaults is not None:
                fields["integrationMethod"] = method if method is not None else defaults[0]
                fields["payloadFormatVersion"] = version if version is not None else defaults[1]
        if credentials is not None:
            fields["credentialsArn"] = credentials
        fields["timeoutInMillis"] = DEFAULT_TIMEOUT_MS if timeout is None else timeout
        fields["connectionType"] = "INTERNET"
        if description is not None:
            fields["description"] = description
        for key, value in parameters.items():
            if value is not None and key == "requestParameters" and subtype is not None:
                # An AWS action's parameters are strings; `DelaySeconds: 5` means the text "5".
                fields[key] = file.string_map(body, key, where)
            elif value is not None:
                fields[key] = to_plain(value)

        if unknown_function:
            unreadable.add("integrationUri")
        errors = [
            error
            for error in integration_errors(fields)
            if not (error.field and error.field[0] in unreadable)
        ]
        uri_hint = {
            "HTTP_PROXY": " (expected an absolute http:// or https:// URL)",
            "AWS_PROXY": " (expected a function name from functions:, "
            "arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER], or "
            "arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/invocations)",
        }
        hints: dict[Field, str] = {
            ("integrationType",): f" (got {integration_type!r})",
            ("timeoutInMillis",): f" (got {timeout})",
            ("integrationUri",): uri_hint.get(integration_type, ""),
        }
        file.report_errors(errors, where, body, line, hints=hints)
        if errors:
            return None
        return IntegrationSpec(name, fields, SourceLocation(file.name, line))

    # ------------------------------------------------------------------------------------------ routes

    def routes(
        self,
        body: YamlMap,
        declared: set[str],
        integrations: list[IntegrationSpec],
        authorizer_types: dict[str, str | None],
    ) -> list[RouteSpec]:
        file = self.file
        entries = file.mapping(body, "routes", f"API {self.api!r}")
        specs: list[RouteSpec] = []
        parsed: list[RouteKey] = []
        for key, value in (entries or YamlMap(0)).items():
            assert entries is not None
            line = entries.key_line(key)
            where = f"API {self.api!r}, route {key!r}"
            try:
                route_key = parse_route_key(key)
                check_route_key_conflicts(route_key, parsed)
            except (RouteKeyError, ConflictError) as error:
                file.report(line, f"{where}: {error}")
                continue
            parsed.append(route_key)
            fields: dict[str, Any] = {"routeKey": key, "authorizationType": "NONE"}
            integration: str | None = None
            authorizer: str | None = None
            integration_line = line
            if isinstance(value, (str, int, float)):
                integration = entries.texts.get(key, str(value))
            elif isinstance(value, YamlMap):
                file.check_keys(value, ROUTE_KEYS, where)
                integration_line = value.key_line("integration", line)
                target = value.get("integration")
                if isinstance(target, YamlMap):
                    integration = INLINE_INTEGRATION_PREFIX + key
                    spec = self.integration(
                        integration, target, integration_line, f"{where}, inline integration"
                    )
                    if spec is not None:
                        integrations.append(spec)
                        declared.add(integration)
                    else:
                        integration = None
                elif target is not None:
                    integration = file.string(value, "integration", where)
                elif "integration" in value:
                    file.report(
                        integration_line,
                        f"{where}: integration must be the name of an integration or a mapping, got nothing (null)",
                    )
                authorizer = file.string(value, "authorizer", where)
                authorization_type = file.string(value, "authorizationType", where)
                if authorization_type is None and authorizer is not None:
                    authorization_type = _AUTHORIZATION_TYPE_OF.get(authorizer_types.get(authorizer) or "")
                if authorization_type is not None:
                    fields["authorizationType"] = authorization_type
                if (text := file.string(value, "operationName", where)) is not None:
                    fields["operationName"] = text
                if (scopes := file.string_list(value, "authorizationScopes", where)) is not None:
                    fields["authorizationScopes"] = scopes
                if (parameters := file.mapping(value, "requestParameters", where)) is not None:
                    fields["requestParameters"] = to_plain(parameters)
                # The authorizer's id is only known once the file is applied; its name stands in for it.
                checked = {**fields, "authorizerId": authorizer} if authorizer is not None else fields
                errors = [error for error in route_errors(checked) if error.field != ("routeKey",)]
                if authorizer is not None and not errors:
                    errors = self._authorizer_reference_errors(authorizer, fields, authorizer_types)
                file.report_errors(errors, where, value, line, {"authorizerId": "authorizer"})
            else:
                file.report(
                    line,
                    f"{where}: give the name of an integration, or a mapping with integration:, "
                    f"got {describe(value)}",
                )
                continue
            if integration is not None and integration not in declared:
                file.report(
                    integration_line,
                    f"{where}: no integration named {integration!r} in integrations:"
                    f"{_suggestion(integration, sorted(declared)) if declared else ''}",
                )
            specs.append(RouteSpec(key, integration, fields, SourceLocation(file.name, line), authorizer))
        return specs

    def _authorizer_reference_errors(
        self, authorizer: str, fields: dict[str, Any], authorizer_types: dict[str, str | None]
    ) -> list[ValidationError]:
        if authorizer not in authorizer_types:
            declared = sorted(authorizer_types)
            return [
                NotFoundError(
                    f"no authorizer named {authorizer!r} in authorizers:"
                    f"{_suggestion(authorizer, declared) if declared else ''}",
                    ("authorizerId",),
                )
            ]
        authorization_type = fields["authorizationType"]
        wanted = _AUTHORIZATION_TYPE_OF.get(authorizer_types[authorizer] or "")
        if authorization_type in ("NONE", "AWS_IAM"):
            return [
                ValidationError(
                    f"authorizer {authorizer!r} is only used with authorizationType JWT or CUSTOM, "
                    f"not {authorization_type}",
                    ("authorizationType",),
                )
            ]
        if wanted is not None and authorization_type != wanted:
            # AWS's CreateRoute answer for an authorizer of the other type [OBS] (see core.validation).
            expected = "JWT authorizer" if authorization_type == "JWT" else "REQUEST authorizer"
            return [
                ValidationError(
                    f"Invalid authorizer ID specified. Setting the authorization type to {authorization_type} "
                    f"requires a valid {expected}.",
                    ("authorizerId",),
                )
            ]
        return []

    # ------------------------------------------------------------------------------------------ stages

    def stages(self, body: YamlMap, location: SourceLocation, route_keys: set[str]) -> list[StageSpec]:
        file = self.file
        entries = file.mapping(body, "stages", f"API {self.api!r}")
        if entries is None:
            # No stages: serve the API on `$default` with autoDeploy, as quick create does (spec §1.4).
            line = body.key_line("stages", location.line)
            fields = {"stageName": DEFAULT_STAGE_NAME, "autoDeploy": True}
            return [StageSpec(DEFAULT_STAGE_NAME, fields, SourceLocation(file.name, line))]
        specs = []
        for name, value in entries.items():
            line = entries.key_line(name)
            where = f"API {self.api!r}, stage {name!r}"
            if value is None:
                value = YamlMap(line)
            if not isinstance(value, YamlMap):
                file.report(line, f"{where} must be a mapping, got {describe(value)}")
                continue
            spec = self.stage(name, value, line, where, route_keys)
            if spec is not None:
                specs.append(spec)
        return specs

    def stage(
        self, name: str, body: YamlMap, line: int, where: str, route_keys: set[str]
    ) -> StageSpec | None:
        file = self.file
        file.check_keys(body, STAGE_KEYS, where)
        fields: dict[str, Any] = {
            "stageName": name,
            "autoDeploy": bool(file.boolean(body, "autoDeploy", where)),
        }
        if (description := file.string(body, "description", where)) is not None:
            fields["description"] = description
        if (variables := file.string_map(body, "stageVariables", where)) is not None:
            fields["stageVariables"] = variables
        if (defaults := file.mapping(body, "defaultRouteSettings", where)) is not None:
            file.check_keys(defaults, ROUTE_SETTINGS_FIELDS, f"{where}, defaultRouteSettings")
            fields["defaultRouteSettings"] = to_plain(defaults)
        if (per_route := file.mapping(body, "routeSettings", where)) is not None:
            for key, settings in per_route.items():
                if isinstance(settings, YamlMap):
                    file.check_keys(settings, ROUTE_SETTINGS_FIELDS, f"{where}, routeSettings {key!r}")
            fields["routeSettings"] = to_plain(per_route)
        if (access_log := file.mapping(body, "accessLogSettings", where)) is not None:
            file.check_keys(access_log, ACCESS_LOG_FIELDS, f"{where}, accessLogSettings")
            fields["accessLogSettings"] = to_plain(access_log)
        if (tags := file.string_map(body, "tags", where)) is not None:
            fields["tags"] = tags

        errors = stage_errors(fields)
        for key in fields.get("routeSettings", {}):
            if not any(error.field == ("routeSettings", key) for error in errors):
                try:
                    validate_route_settings_keys({key: None}, route_keys)
                except NotFoundError as error:
                    errors.append(error)
        file.report_errors(errors, where, body, line)
        if errors:
            return None
        return StageSpec(name, fields, SourceLocation(file.name, line))
