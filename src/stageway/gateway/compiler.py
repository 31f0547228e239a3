"""Compile the store's deployments and stages into the plans the data plane serves.

Runs once per change (a deployment, a stage update), never per request. Stage plans are cached by
deployment id and stage settings, so a change to one API recompiles only what it touched.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from stageway.auth import AuthorizerConfigError, AuthorizerPlan, compile_authorizer, compile_route_auth
from stageway.core.aws_service import compile_service_call
from stageway.core.context_vars import compile_log_format
from stageway.core.cors import CorsPolicy, compile_cors
from stageway.core.http_proxy import compile_uri_template
from stageway.core.mapping import (
    NO_REQUEST_MAPPING,
    NO_RESPONSE_MAPPING,
    RequestMapping,
    ResponseMapping,
    compile_request_parameters,
    compile_response_parameters,
)
from stageway.core.route_keys import parse_route_key
from stageway.core.routing import RouteMatcher
from stageway.core.throttle import ThrottleLimit, account_limit, compile_stage_throttle
from stageway.core.validation import ValidationError, parse_lambda_arn
from stageway.gateway.plan import (
    AccessLogPlan,
    ApiMappingPlan,
    ApiPlan,
    AwsServicePlan,
    DomainPlan,
    GatewayPlan,
    HttpProxyPlan,
    IntegrationPlan,
    LambdaPlan,
    RoutePlan,
    StagePlan,
)
from stageway.gateway.stage_log import exchange_renderer, values_renderer
from stageway.store.base import Document, Store
from stageway.store.deployments import stage_snapshot

log = logging.getLogger("stageway.compiler")

DEFAULT_TIMEOUT_MS = 30_000
NO_MAPPING: tuple[RequestMapping, ResponseMapping] = (NO_REQUEST_MAPPING, NO_RESPONSE_MAPPING)


class Compiler:
    def __init__(
        self,
        *,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        account_throttle: ThrottleLimit | None = None,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.account_throttle = account_throttle
        self._stage_cache: dict[tuple[str, str], tuple[bytes, StagePlan]] = {}

    def compile(self, store: Store, default_api: str | None = None) -> GatewayPlan:
        """Everything deployed in the store, as one plan. `default_api` is an API name or id."""
        version = store.version()
        apis: dict[str, ApiPlan] = {}
        live_keys: set[tuple[str, str]] = set()
        for api in store.list("api"):
            api_id = api["apiId"]
            named: dict[str, StagePlan] = {}
            default_stage: StagePlan | None = None
            for stage in store.list("stage", api_id):
                plan = self._stage_plan(store, api_id, stage)
                if plan is None:
                    continue
                live_keys.add((api_id, stage["stageName"]))
                if stage["stageName"] == "$default":
                    default_stage = plan
                else:
                    named[stage["stageName"]] = plan
            apis[api_id] = ApiPlan(
                api_id=api_id,
                name=api.get("name", ""),
                stages=named,
                default_stage=default_stage,
                disable_execute_api_endpoint=bool(api.get("disableExecuteApiEndpoint", False)),
            )
        for key in set(self._stage_cache) - live_keys:
            del self._stage_cache[key]
        return GatewayPlan(
            apis=apis,
            default_api=_pick_default_api(apis, default_api),
            domains=_domain_plans(store),
            region=self.region,
            account_id=self.account_id,
            version=version,
        )

    def _stage_plan(self, store: Store, api_id: str, stage: Document) -> StagePlan | None:
        deployment_id = stage.get("deploymentId")
        if not deployment_id:
            # A stage with nothing deployed has nothing to route (spec §2.2): it answers 404.
            return None
        cache_key = (api_id, stage["stageName"])
        fingerprint = orjson.dumps(stage, option=orjson.OPT_SORT_KEYS)
        cached = self._stage_cache.get(cache_key)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        snapshot = stage_snapshot(store, api_id, stage)
        if snapshot is None:
            log.warning("stage %s of API %s names a missing deployment %s", stage["stageName"], api_id, deployment_id)
            return None
        plan = self.compile_stage(api_id, stage, snapshot)
        self._stage_cache[cache_key] = (fingerprint, plan)
        return plan

    def compile_stage(self, api_id: str, stage: Document, snapshot: dict[str, Any]) -> StagePlan:
        integrations = {doc["integrationId"]: doc for doc in snapshot.get("integrations", [])}
        authorizers = self._authorizer_plans(snapshot)
        default_settings = stage.get("defaultRouteSettings") or {}
        throttle = compile_stage_throttle(
            api_id,
            stage["stageName"],
            [route["routeKey"] for route in snapshot.get("routes", [])],
            default_settings,
            stage.get("routeSettings"),
            account=self.account_throttle or account_limit(self.region),
        )
        routes: list[tuple[Any, RoutePlan]] = []
        # What routes that share an integration can share, compiled once: its parameter mappings, and its plan
        # for each shape of route (the plan of an HTTP_PROXY integration depends on the route's greedy
        # variable and on whether it is `$default`).
        mappings: dict[str, tuple[RequestMapping, ResponseMapping]] = {}
        integration_plans: dict[tuple[str, tuple[str, ...], bool], IntegrationPlan | None] = {}
        for route in snapshot.get("routes", []):
            key = parse_route_key(route["routeKey"])
            integration_id = _integration_id(route.get("target"))
            doc = integrations.get(integration_id) if integration_id else None
            auth = compile_route_auth(route, authorizers)
            limits = throttle.limits_for(route["routeKey"])
            integration_plan: IntegrationPlan | None = None
            mapping = NO_MAPPING
            if doc is not None:
                assert integration_id is not None
                found = mappings.get(integration_id)
                if found is None:
                    found = mappings[integration_id] = (_request_mapping(doc), _response_mapping(doc))
                mapping = found
                greedy = (key.segments[-1].name,) if key.is_greedy else ()  # (a greedy variable is always last)
                shape = (integration_id, greedy, key.is_default)
                if shape in integration_plans:
                    integration_plan = integration_plans[shape]
                else:
                    integration_plan = integration_plans[shape] = self._integration_plan(doc, greedy, key.is_default)
            # One RoutePlan a route (its `__post_init__` is a good part of a large API's compile).
            plan = RoutePlan(
                route["routeKey"],
                route["routeId"],
                integration_plan,
                integration_id,
                request_mapping=mapping[0],
                response_mapping=mapping[1],
                auth=auth,
                throttle_limits=limits,
            )
            routes.append((key, plan))
        cors_config = (snapshot.get("api") or {}).get("corsConfiguration")
        return StagePlan(
            api_id=api_id,
            stage_name=stage["stageName"],
            deployment_id=stage["deploymentId"],
            matcher=RouteMatcher.compile(routes),
            stage_variables=dict(stage.get("stageVariables") or {}),
            throttle=throttle,
            detailed_metrics=bool(default_settings.get("detailedMetricsEnabled")),
            cors=_cors_policy(cors_config) if cors_config else None,
            access_log=_access_log_plan(stage.get("accessLogSettings")),
        )

    def _authorizer_plans(self, snapshot: dict[str, Any]) -> dict[str, AuthorizerPlan]:
        plans: dict[str, AuthorizerPlan] = {}
        for doc in snapshot.get("authorizers", []):
            try:
                plans[doc["authorizerId"]] = compile_authorizer(doc, region=self.region, account_id=self.account_id)
            except AuthorizerConfigError as error:
                # Its routes stay closed (500), never open: an authorizer that cannot run denies.
                log.error("authorizer %s cannot be used: %s", doc.get("authorizerId"), error)
        return plans

    def _integration_plan(self, doc: Document, greedy: tuple[str, ...], is_default: bool) -> IntegrationPlan | None:
        timeout_s = int(doc.get("timeoutInMillis") or DEFAULT_TIMEOUT_MS) / 1000
        kind = doc.get("integrationType")
        if kind == "HTTP_PROXY":
            method = doc.get("integrationMethod") or "ANY"
            return HttpProxyPlan(
                uri=compile_uri_template(doc["integrationUri"], greedy_parameters=greedy),
                method=None if method == "ANY" else method,
                timeout_s=timeout_s,
                append_request_path=is_default,
            )
        if kind == "AWS_PROXY" and not doc.get("integrationSubtype"):
            parsed = parse_lambda_arn(doc["integrationUri"])
            if parsed is None:
                log.warning("integration %s: not a Lambda ARN: %s", doc.get("integrationId"), doc["integrationUri"])
                return None
            return LambdaPlan(
                function_name=parsed.name,
                function_arn=parsed.function_arn,
                payload_format_version=str(doc.get("payloadFormatVersion") or "2.0"),
                timeout_s=timeout_s,
            )
        if kind == "AWS_PROXY":
            try:
                call = compile_service_call(doc["integrationSubtype"], doc.get("requestParameters"))
            except ValidationError as error:
                log.error("integration %s cannot be used: %s", doc.get("integrationId"), error.message)
                return None
            return AwsServicePlan(call, region=self.region, timeout_s=timeout_s)
        log.warning("integration %s: type %s is not served yet", doc.get("integrationId"), kind)
        return None


# Configuration is validated when it is set (file loader, control plane); a document that still fails to
# compile here (written by an older version, or by hand) loses only that feature, loudly, never the stage.


def _request_mapping(doc: Document) -> RequestMapping:
    if doc.get("integrationSubtype"):
        return NO_REQUEST_MAPPING  # its requestParameters are the AWS action's parameters (AwsServicePlan)
    if not doc.get("requestParameters"):
        return NO_REQUEST_MAPPING
    try:
        return compile_request_parameters(
            doc.get("requestParameters"),
            integration_type=doc.get("integrationType", ""),
            integration_subtype=doc.get("integrationSubtype"),
        )
    except ValueError as error:
        log.error("integration %s: requestParameters ignored: %s", doc.get("integrationId"), error)
        return NO_REQUEST_MAPPING


def _response_mapping(doc: Document) -> ResponseMapping:
    if not doc.get("responseParameters"):
        return NO_RESPONSE_MAPPING
    try:
        return compile_response_parameters(doc.get("responseParameters"))
    except ValueError as error:
        log.error("integration %s: responseParameters ignored: %s", doc.get("integrationId"), error)
        return NO_RESPONSE_MAPPING


def _cors_policy(config: dict[str, Any]) -> CorsPolicy | None:
    try:
        return compile_cors(config)
    except ValueError as error:
        log.error("corsConfiguration ignored: %s", error)
        return None


def _access_log_plan(settings: dict[str, Any] | None) -> AccessLogPlan | None:
    if not settings or not settings.get("format") or not settings.get("destinationArn"):
        return None
    try:
        log_format = compile_log_format(settings["format"])
        return AccessLogPlan(
            log_format, settings["destinationArn"], exchange_renderer(log_format), values_renderer(log_format)
        )
    except ValueError as error:
        log.error("accessLogSettings ignored: %s", error)
        return None


def _domain_plans(store: Store) -> dict[str, DomainPlan]:
    domains: dict[str, DomainPlan] = {}
    for domain in store.list("domain"):
        name = domain["domainName"]
        mappings = [
            ApiMappingPlan(
                key=mapping.get("apiMappingKey") or "",
                key_segments=tuple(mapping["apiMappingKey"].split("/")) if mapping.get("apiMappingKey") else (),
                api_id=mapping["apiId"],
                stage=mapping["stage"],
            )
            for mapping in store.list("mapping", name)
        ]
        mappings.sort(key=lambda mapping: len(mapping.key_segments), reverse=True)
        domains[name.lower()] = DomainPlan(name, tuple(mappings))
    return domains


def _integration_id(target: str | None) -> str | None:
    if target and target.startswith("integrations/"):
        return target.removeprefix("integrations/")
    return None


def _pick_default_api(apis: dict[str, ApiPlan], wanted: str | None) -> ApiPlan | None:
    if wanted:
        for plan in apis.values():
            if wanted in (plan.api_id, plan.name):
                return plan
        return None
    return next(iter(apis.values())) if len(apis) == 1 else None
