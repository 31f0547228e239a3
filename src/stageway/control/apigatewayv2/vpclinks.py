"""VPC links: CreateVpcLink, GetVpcLink(s), UpdateVpcLink, DeleteVpcLink.

Stored so that private integrations (`connectionType: VPC_LINK`) can name one; a self-hosted gateway has no
VPC to reach, so a link is AVAILABLE as soon as it exists (spec §1.1).
"""

from __future__ import annotations

from stageway.control.apigatewayv2.common import Context, Handler, Params, paginate, require, unused_id
from stageway.control.apigatewayv2.render import render_vpc_link
from stageway.control.apigatewayv2.tags import validate_tags
from stageway.control.wire import BadRequestException
from stageway.store.base import Document
from stageway.store.deployments import now_iso


def create_vpc_link(ctx: Context, params: Params) -> Document:
    _check_name(params["name"])
    if "tags" in params:
        validate_tags(params["tags"])
    with ctx.store.transaction():
        vpc_link_id = unused_id(ctx, "vpclink")
        link: Document = {
            "vpcLinkId": vpc_link_id,
            "name": params["name"],
            "subnetIds": params["subnetIds"],
            "securityGroupIds": params.get("securityGroupIds", []),
            "tags": params.get("tags", {}),
            "createdDate": now_iso(),
            "vpcLinkStatus": "AVAILABLE",
            "vpcLinkStatusMessage": "VPC link is ready to route traffic",
            "vpcLinkVersion": "V2",
        }
        ctx.store.put("vpclink", "", vpc_link_id, link)
    return render_vpc_link(link)


def get_vpc_link(ctx: Context, params: Params) -> Document:
    return render_vpc_link(require(ctx, "vpclink", "", params["vpcLinkId"]))


def get_vpc_links(ctx: Context, params: Params) -> Document:
    return paginate([render_vpc_link(doc) for doc in ctx.store.list("vpclink")], params)


def update_vpc_link(ctx: Context, params: Params) -> Document:
    with ctx.store.transaction():
        link = require(ctx, "vpclink", "", params["vpcLinkId"])
        if "name" in params:
            _check_name(params["name"])
            link["name"] = params["name"]
            ctx.store.put("vpclink", "", link["vpcLinkId"], link)
    return render_vpc_link(link)


def delete_vpc_link(ctx: Context, params: Params) -> Document:
    with ctx.store.transaction():
        require(ctx, "vpclink", "", params["vpcLinkId"])
        ctx.store.delete("vpclink", "", params["vpcLinkId"])
    return {}  # 202 with an empty DeleteVpcLinkResponse (service model)


def _check_name(name: str) -> None:
    if not 1 <= len(name) <= 128:
        raise BadRequestException("A VPC link name must be 1 to 128 characters long")  # [INF]


OPERATIONS: dict[str, Handler] = {
    "CreateVpcLink": create_vpc_link,
    "GetVpcLink": get_vpc_link,
    "GetVpcLinks": get_vpc_links,
    "UpdateVpcLink": update_vpc_link,
    "DeleteVpcLink": delete_vpc_link,
}
