"""Compiled plans: what the data plane needs to serve a stage, built once per deployment.

Frozen, complete objects: the request path only reads them. A new deployment or stage change produces new
plans, swapped in whole (`GatewayPlan` is replaced with one assignment, so a request sees the old or the new
configuration, never a mix).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from stageway.auth import OPEN_ROUTE, JwtAuthorizerPlan, RouteAuth
from stageway.auth.identity_sources import SourceKind
from stageway.core.context_vars import LogFormat
from stageway.core.cors import CorsPolicy
from stageway.core.mapping import NO_REQUEST_MAPPING, NO_RESPONSE_MAPPING, RequestMapping, ResponseMapping
from stageway.core.routing import RouteMatcher
from stageway.core.throttle import StageThrottle, ThrottleLimit

if TYPE_CHECKING:
    from stageway.core.aws_service import ServiceCall
    from stageway.core.http_proxy import UriTemplate


@dataclass(frozen=True, slots=True)
class HttpProxyPlan:
    """An HTTP_PROXY integration as one route uses it."""

    uri: UriTemplate
    method: str | None
    """The backend method, or None for `ANY` (the client's method is kept)."""
    timeout_s: float
    append_request_path: bool
    """True for the `$default` route: AWS appends the full request path to the integration URI."""


@dataclass(frozen=True, slots=True)
class LambdaPlan:
    """An AWS_PROXY integration to a Lambda function."""

    function_name: str
    """The function's name; may hold `${stageVariables.x}`, resolved per request."""
    function_arn: str
    payload_format_version: str
    timeout_s: float

    @property
    def has_stage_variables(self) -> bool:
        return "${" in self.function_name


@dataclass(frozen=True, slots=True)
class AwsServicePlan:
    """An AWS_PROXY integration with an `integrationSubtype`: an AWS service action (spec §4.7)."""

    call: ServiceCall
    """The subtype and its compiled `requestParameters`."""
    region: str
    """The API's region: the service's region unless the `Region` parameter names another."""
    timeout_s: float


IntegrationPlan = HttpProxyPlan | LambdaPlan | AwsServicePlan


@dataclass(frozen=True, slots=True)
class RoutePlan:
    route_key: str
    route_id: str
    integration: IntegrationPlan | None
    integration_id: str | None
    request_mapping: RequestMapping = NO_REQUEST_MAPPING
    """The integration's `requestParameters`, compiled."""
    response_mapping: ResponseMapping = NO_RESPONSE_MAPPING
    """The integration's `responseParameters`, compiled."""
    auth: RouteAuth = OPEN_ROUTE
    """How the route is authorized: NONE, JWT, CUSTOM (Lambda) or AWS_IAM, with its compiled authorizer."""
    throttle_limits: tuple[ThrottleLimit, ...] = field(kw_only=True)
    """`StagePlan.throttle.limits_for(route_key)`, looked up once per deployment rather than per request."""
    lane_proxy: HttpProxyPlan | None = field(init=False, repr=False, compare=False)
    """The integration, when the listener's proxy lane may answer the route (`server/proxy_lane.py`): an HTTP
    proxy with no authorizer or a JWT one that reads its token from a header (`lane_jwt`), no response
    mapping, and a request mapping that is empty or one the lane applies (`lane_mapping`)."""
    lane_lambda: LambdaPlan | None = field(init=False, repr=False, compare=False)
    """Likewise for a Lambda proxy integration (`server/lambda_lane.py`), with no parameter mapping at all
    (the Lambda lane builds its event parts once per route and request shape)."""
    lane_jwt: JwtAuthorizerPlan | None = field(init=False, repr=False, compare=False)
    """The JWT authorizer of a `lane_proxy` or `lane_lambda` route: a lane takes the requests whose token the
    authorizer has verified lately and would let through now (`Authorizers.result_without_io`), the pipeline
    the rest."""
    lane_mapping: RequestMapping | None = field(init=False, repr=False, compare=False)
    """The request mapping of a `lane_proxy` route that has one: one that leaves alone the headers the
    gateway sets on the way to the backend (`RequestMapping.edits_backend_set_headers`), whose edit is applied
    as the backend's header list is made (as the pipeline applies it)."""

    def __post_init__(self) -> None:
        integration = self.integration
        request_mapping, no_response_mapping = self.request_mapping, self.response_mapping.is_empty
        authorization_type, authorizer = self.auth.authorization_type, self.auth.authorizer
        header_jwt = (
            authorization_type == "JWT"
            and isinstance(authorizer, JwtAuthorizerPlan)
            and authorizer.identity_source.kind is SourceKind.HEADER
        )
        authorized_in_lane = authorization_type == "NONE" or header_jwt
        lane_proxy = (
            integration
            if isinstance(integration, HttpProxyPlan)
            and authorized_in_lane
            and no_response_mapping
            and not request_mapping.edits_backend_set_headers
            else None
        )
        lane_lambda = (
            integration
            if isinstance(integration, LambdaPlan) and authorized_in_lane and no_response_mapping and request_mapping.is_empty
            else None
        )
        laned = lane_proxy is not None or lane_lambda is not None
        # frozen: set once, here
        object.__setattr__(self, "lane_proxy", lane_proxy)
        object.__setattr__(self, "lane_lambda", lane_lambda)
        lane_jwt = authorizer if laned and header_jwt and isinstance(authorizer, JwtAuthorizerPlan) else None
        object.__setattr__(self, "lane_jwt", lane_jwt)
        object.__setattr__(
            self, "lane_mapping", request_mapping if lane_proxy is not None and not request_mapping.is_empty else None
        )


@dataclass(frozen=True, slots=True)
class AccessLogPlan:
    """A stage's `accessLogSettings`: the compiled format and where its lines go."""

    format: LogFormat
    destination: str
    """`stdout`, `stderr`, a file path, or a CloudWatch log group ARN (written to a file named after it)."""
    renderer: Callable[..., str] | None = None
    """`stage_log.exchange_renderer(format)`: lines straight from the Exchange, when the format allows."""
    values_renderer: Callable[..., str] | None = None
    """`stage_log.values_renderer(format)`: a lane's lines from its values, when the format allows."""


@dataclass(frozen=True, slots=True)
class StagePlan:
    api_id: str
    stage_name: str
    deployment_id: str
    matcher: RouteMatcher[RoutePlan]
    stage_variables: dict[str, str]
    throttle: StageThrottle
    detailed_metrics: bool = False
    cors: CorsPolicy | None = None
    """The deployed API's corsConfiguration: preflights answered, CORS headers added (spec §6)."""
    access_log: AccessLogPlan | None = None


@dataclass(frozen=True, slots=True)
class ApiPlan:
    api_id: str
    name: str
    stages: dict[str, StagePlan]
    """Named stages by name; the `$default` stage is kept apart in `default_stage`."""
    default_stage: StagePlan | None
    disable_execute_api_endpoint: bool = False


@dataclass(frozen=True, slots=True)
class ApiMappingPlan:
    """`(domain, apiMappingKey)` → `(API, stage)` (spec §9)."""

    key: str
    """The mapping key as configured (`orders/v1`), "" for the catch-all `(none)` mapping."""
    key_segments: tuple[str, ...]
    api_id: str
    stage: str


@dataclass(frozen=True, slots=True)
class DomainPlan:
    domain_name: str
    mappings: tuple[ApiMappingPlan, ...]
    """Longest key first, so the first whole-segment prefix match is AWS's choice."""


@dataclass(frozen=True, slots=True)
class GatewayPlan:
    apis: dict[str, ApiPlan] = field(default_factory=dict)
    default_api: ApiPlan | None = None
    domains: dict[str, DomainPlan] = field(default_factory=dict)
    """By lower-case host name; wildcard domains are kept under their `*.` name."""
    region: str = "us-east-1"
    account_id: str = "123456789012"
    version: int = 0
