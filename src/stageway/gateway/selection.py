"""Which API and which stage a request is for (spec §2.2, §3.1). Pure: plans and strings in, plans out."""

from __future__ import annotations

from typing import NamedTuple

from stageway.gateway.plan import ApiPlan, DomainPlan, GatewayPlan, StagePlan

EXECUTE_API_LABEL = ".execute-api."


class Selection(NamedTuple):
    """The API and stage a request is for. (A named tuple: one is made per request, and a tuple is built
    with less work than a dataclass's `__init__` does.)"""

    api: ApiPlan
    stage: StagePlan
    route_raw_path: str
    """The encoded path routes are matched against: the stage segment (or the API mapping key) removed."""
    mapping_key: str | None = None
    """The API mapping key matched on a custom domain ("" for the `(none)` mapping); None elsewhere."""


def host_without_port(host: str) -> str:
    if host.startswith("["):  # IPv6 literal
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def select_api(plan: GatewayPlan, host: str) -> ApiPlan | None:
    """`{apiId}.execute-api.<anything>` names its API; any other host gets the default API."""
    index = host.find(EXECUTE_API_LABEL)
    if index > 0:
        api = plan.apis.get(host[:index])
        # `disableExecuteApiEndpoint`: the execute-api host answers 404 on HTTP APIs (spec §3.1).
        if api is None or api.disable_execute_api_endpoint:
            return None
        return api
    api = plan.default_api
    # The plain listener address stands for the execute-api endpoint: disabled with it.
    return None if api is None or api.disable_execute_api_endpoint else api


def select_stage(api: ApiPlan, raw_path: str) -> Selection | None:
    """A first path segment naming a stage picks it (and is consumed); otherwise `$default`, if any."""
    if api.stages:
        end = raw_path.find("/", 1)
        first = raw_path[1:] if end == -1 else raw_path[1:end]
        stage = api.stages.get(first)
        if stage is not None:
            # `/prod` selects stage prod with route path `/` (spec §2.2).
            return Selection(api, stage, "/" if end == -1 else raw_path[end:])
    if api.default_stage is not None:
        return Selection(api, api.default_stage, raw_path)
    return None


def find_domain(plan: GatewayPlan, host: str) -> DomainPlan | None:
    """The custom domain for a host: an exact name first, then a wildcard on its first label (spec §9)."""
    if not plan.domains:
        return None
    host = host.lower()
    domain = plan.domains.get(host)
    if domain is None and "." in host:
        domain = plan.domains.get("*." + host.split(".", 1)[1])
    return domain


def select_by_mapping(plan: GatewayPlan, domain: DomainPlan, raw_path: str) -> Selection | None:
    """The longest API mapping key that prefixes the path on whole segments wins; the stage is the
    mapping's, never taken from the path; the key is removed before routing (spec §9)."""
    segments = raw_path[1:].split("/")
    for mapping in domain.mappings:
        size = len(mapping.key_segments)
        if size and tuple(segments[:size]) != mapping.key_segments:
            continue
        api = plan.apis.get(mapping.api_id)
        if api is None:
            return None
        stage = api.default_stage if mapping.stage == "$default" else api.stages.get(mapping.stage)
        if stage is None:
            return None
        rest = "/" + "/".join(segments[size:]) if size else raw_path
        return Selection(api, stage, rest, mapping.key)
    return None


def select(plan: GatewayPlan, host: str, raw_path: str) -> Selection | None:
    if plan.domains:  # (checked here too: most gateways have no custom domain)
        domain = find_domain(plan, host)
        if domain is not None:
            return select_by_mapping(plan, domain, raw_path)
    api = select_api(plan, host)
    if api is None:
        return None
    return select_stage(api, raw_path)
