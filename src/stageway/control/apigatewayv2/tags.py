"""Tags: TagResource, UntagResource, GetTags, keyed by resource ARN (spec §1.1).

Tags live in the `tags` member of the tagged document itself (APIs, stages, domain names, VPC links), which
is where GetApi, GetStage, GetDomainName and GetVpcLink return them from.
"""

from __future__ import annotations

import re

from stageway.control.apigatewayv2.common import Context, Handler, Params, raise_first, require, require_api
from stageway.control.wire import BadRequestException
from stageway.core.validation import tag_errors
from stageway.store.base import Document

MAX_TAGS = 50  # AWS's limit of tags per resource [DOC: Tagging AWS resources]

_ARN = re.compile(
    r"^arn:aws(?:-cn|-us-gov)?:apigateway:(?P<region>[a-z0-9-]+)::/"
    r"(?:apis/(?P<api>[^/]+)(?:/stages/(?P<stage>[^/]+))?|domainnames/(?P<domain>[^/]+)|vpclinks/(?P<vpclink>[^/]+))$"
)


def validate_tags(tags: dict[str, str]) -> None:
    raise_first(tag_errors(tags))
    if len(tags) > MAX_TAGS:
        raise BadRequestException(f"A resource can have at most {MAX_TAGS} tags")  # [INF]


def resolve(ctx: Context, arn: str) -> tuple[str, str, str]:
    """(kind, parent, id) of the document an ARN names, or AWS's 400/404."""
    match = _ARN.match(arn)
    if match is None or match["region"] != ctx.region:
        raise BadRequestException(f"Invalid resource ARN specified: {arn}")  # [INF]
    if match["api"]:
        require_api(ctx, match["api"])
        if match["stage"]:
            require(ctx, "stage", match["api"], match["stage"])
            return "stage", match["api"], match["stage"]
        return "api", "", match["api"]
    if match["domain"]:
        require(ctx, "domain", "", match["domain"])
        return "domain", "", match["domain"]
    require(ctx, "vpclink", "", match["vpclink"])
    return "vpclink", "", match["vpclink"]


def get_tags(ctx: Context, params: Params) -> Document:
    kind, parent, id = resolve(ctx, params["resource-arn"])
    doc = ctx.store.get(kind, parent, id) or {}
    return {"tags": doc.get("tags") or {}}


def tag_resource(ctx: Context, params: Params) -> Document:
    tags = params.get("tags") or {}
    with ctx.store.transaction():
        kind, parent, id = resolve(ctx, params["resource-arn"])
        doc = ctx.store.get(kind, parent, id) or {}
        merged = {**(doc.get("tags") or {}), **tags}
        validate_tags(merged)
        doc["tags"] = merged
        ctx.store.put(kind, parent, id, doc)
    return {}


def untag_resource(ctx: Context, params: Params) -> None:
    with ctx.store.transaction():
        kind, parent, id = resolve(ctx, params["resource-arn"])
        doc = ctx.store.get(kind, parent, id) or {}
        tags = dict(doc.get("tags") or {})
        for key in params["tagKeys"]:
            tags.pop(key, None)
        doc["tags"] = tags
        ctx.store.put(kind, parent, id, doc)


OPERATIONS: dict[str, Handler] = {
    "GetTags": get_tags,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
}
