"""What a configuration file asks for, as frozen dataclasses (the loader's output).

Each `fields` dict uses AWS's camelCase wire names, exactly as apigatewayv2's JSON does, so the
store and the control plane can take it as a CreateApi / CreateIntegration / CreateRoute /
CreateStage body (ids and the route `target` are assigned when the spec is applied).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SourceLocation:
    file: str
    line: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    runtime: str
    handler: str
    code_dir: Path  # absolute
    environment: dict[str, str]
    timeout_s: int
    memory_mb: int
    reserved_concurrency: int | None
    description: str
    location: SourceLocation


@dataclass(frozen=True)
class IntegrationSpec:
    """`fields`: integrationType, integrationUri (a Lambda function's ARN for AWS_PROXY),
    integrationMethod, payloadFormatVersion, timeoutInMillis, connectionType, and when given
    description, requestParameters, responseParameters."""

    name: str
    fields: dict[str, Any]
    location: SourceLocation


@dataclass(frozen=True)
class AuthorizerSpec:
    """`fields`: a CreateAuthorizer body without the id: name, authorizerType, identitySource, and
    jwtConfiguration (JWT) or authorizerUri (the apigateway invocation URI of a Lambda function),
    authorizerPayloadFormatVersion, authorizerResultTtlInSeconds and enableSimpleResponses (REQUEST)."""

    name: str
    fields: dict[str, Any]
    location: SourceLocation


@dataclass(frozen=True)
class RouteSpec:
    """`integration` names an entry of `ApiSpec.integrations` (None: a route without a target);
    `authorizer` an entry of `ApiSpec.authorizers` (its id becomes the route's `authorizerId`).
    `fields`: routeKey, authorizationType, and when given authorizationScopes, operationName,
    requestParameters."""

    route_key: str
    integration: str | None
    fields: dict[str, Any]
    location: SourceLocation
    authorizer: str | None = None


@dataclass(frozen=True)
class StageSpec:
    """`fields`: stageName, autoDeploy, and when given description, stageVariables,
    defaultRouteSettings, routeSettings, accessLogSettings, tags."""

    name: str
    fields: dict[str, Any]
    location: SourceLocation


@dataclass(frozen=True)
class ApiSpec:
    """`fields`: name, protocolType ("HTTP"), disableExecuteApiEndpoint, and when given
    description, corsConfiguration, tags."""

    name: str
    api_id: str
    fields: dict[str, Any]
    integrations: tuple[IntegrationSpec, ...]
    routes: tuple[RouteSpec, ...]
    stages: tuple[StageSpec, ...]
    location: SourceLocation
    authorizers: tuple[AuthorizerSpec, ...] = ()


@dataclass(frozen=True)
class ApiMappingSpec:
    """`(domain, key)` → `(API, stage)`; `key` "" is the catch-all `(none)` mapping."""

    key: str
    api_name: str
    stage: str
    location: SourceLocation


@dataclass(frozen=True)
class DomainSpec:
    name: str
    mappings: tuple[ApiMappingSpec, ...]
    location: SourceLocation


@dataclass(frozen=True)
class ConfigSpec:
    region: str
    account_id: str
    functions: tuple[FunctionSpec, ...]
    apis: tuple[ApiSpec, ...]
    domains: tuple[DomainSpec, ...] = ()


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    line: int  # 1-based
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ConfigError(Exception):
    """The files were refused; `problems` lists every problem found, in file and line order."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems
