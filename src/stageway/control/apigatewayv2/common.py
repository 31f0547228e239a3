"""What every apigatewayv2 operation shares: the call context, look-ups that answer AWS's 404s, pagination,
and the bridge from `core.validation`'s errors to AWS's wire errors.

Handlers are plain synchronous functions `(Context, Params) -> document | None`; the router runs them off
the event loop, one call per thread, so a store transaction never spans an `await`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from stageway.control.wire import AwsError, BadRequestException, ConflictException, NotFoundException
from stageway.core.ids import random_id
from stageway.core.validation import ValidationError
from stageway.store.base import Document, Store

Params = dict[str, Any]
Handler = Callable[["Context", Params], Document | None]


@dataclass(frozen=True, slots=True)
class Context:
    store: Store
    region: str
    account_id: str
    data_plane_port: int

    def api_arn(self, api_id: str) -> str:
        return f"arn:aws:apigateway:{self.region}::/apis/{api_id}"

    def api_endpoint(self, api_id: str) -> str:
        return f"http://{api_id}.execute-api.localhost:{self.data_plane_port}"


# AWS's 404 messages (spec §1.3): the API's is [OBS]; the others follow moto's catalogue [EMU], which
# copies AWS's pattern "Invalid <Resource> identifier specified <id>".
def api_not_found(ctx: Context, api_id: str) -> NotFoundException:
    return NotFoundException(f"Invalid API identifier specified {ctx.account_id}:{api_id}")


_NOT_FOUND: dict[str, Callable[[str], str]] = {
    "route": lambda id: f"Invalid Route identifier specified {id}",
    "integration": lambda id: f"Invalid Integration identifier specified {id}",
    "authorizer": lambda id: f"Invalid Authorizer identifier specified {id}",
    "deployment": lambda id: f"Invalid Deployment identifier specified {id}",
    "stage": lambda id: "Invalid stage identifier specified",
    "vpclink": lambda id: f"Invalid VpcLink identifier specified {id}",
    "domain": lambda id: "The domain name resource specified in the request was not found.",
    "mapping": lambda id: "The api mapping resource specified in the request was not found.",
}


def not_found(kind: str, id: str) -> NotFoundException:
    return NotFoundException(_NOT_FOUND[kind](id))


def require_api(ctx: Context, api_id: str) -> Document:
    api = ctx.store.get("api", "", api_id)
    if api is None:
        raise api_not_found(ctx, api_id)
    return api


def require(ctx: Context, kind: str, parent: str, id: str) -> Document:
    """A route, integration, authorizer, deployment or stage of an API (parent = apiId), a domain name
    (parent ""), an API mapping (parent = domain name) or a VPC link, or AWS's 404."""
    doc = ctx.store.get(kind, parent, id)
    if doc is None:
        raise not_found(kind, id)
    return doc


@contextmanager
def aws_errors() -> Iterator[None]:
    """Turn `core.validation`'s errors (400, 404, 409) into AWS's wire errors."""
    try:
        yield
    except ValidationError as error:
        raise to_aws_error(error) from None


def to_aws_error(error: ValidationError) -> AwsError:
    kind: type[AwsError] = {404: NotFoundException, 409: ConflictException}.get(error.status, BadRequestException)
    return kind(error.message)


def raise_first(errors: list[ValidationError]) -> None:
    if errors:
        raise to_aws_error(errors[0])


# --------------------------------------------------------------------------------------------------
# Pagination: `maxResults` is a string in the model; `nextToken` is opaque to clients.


def paginate(items: list[Document], params: Params) -> Document:
    """One page of `items` as AWS returns it: `{"items": [...], "nextToken": "..."}`."""
    start = _decode_token(params.get("nextToken"))
    limit = _max_results(params.get("maxResults"))
    end = len(items) if limit is None else start + limit
    page: Document = {"items": items[start:end]}
    if end < len(items):
        page["nextToken"] = base64.urlsafe_b64encode(orjson.dumps({"offset": end})).decode().rstrip("=")
    return page


def _max_results(value: object) -> int | None:
    if value is None:
        return None
    text = str(value)
    if not text.isdigit() or not 1 <= int(text) <= 500:
        # [INF] AWS's wording is not known; the model's type is a string holding a number.
        raise BadRequestException(f"Invalid maxResults specified: {text}. Must be a number from 1 to 500")
    return int(text)


def _decode_token(token: object) -> int:
    if token is None or token == "":
        return 0
    try:
        text = str(token)
        value = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        offset = value["offset"]
        if isinstance(offset, int) and offset >= 0:
            return offset
    except (binascii.Error, ValueError, TypeError, KeyError):
        pass
    raise BadRequestException("Invalid pagination token specified")  # [INF]


# --------------------------------------------------------------------------------------------------
# Documents


def pick(params: Params, fields: tuple[str, ...]) -> Document:
    return {field: params[field] for field in fields if field in params}


def public(doc: Mapping[str, Any], fields: frozenset[str]) -> Document:
    """Only the members the model's output shape has: hides stageway's own keys (`"stageway"`)."""
    return {key: value for key, value in doc.items() if key in fields}


def child_readers(
    kind: str, id_param: str, render: Callable[[Document], Document]
) -> tuple[Callable[[Context, Params], Document], Callable[[Context, Params], Document]]:
    """Get-one and get-all (paginated) for a resource that lives under an API, e.g. GetRoute / GetRoutes:
    both answer 404 for an unknown API first, as AWS does."""

    def get_one(ctx: Context, params: Params) -> Document:
        require_api(ctx, params["apiId"])
        return render(require(ctx, kind, params["apiId"], params[id_param]))

    def get_all(ctx: Context, params: Params) -> Document:
        require_api(ctx, params["apiId"])
        return paginate([render(doc) for doc in ctx.store.list(kind, params["apiId"])], params)

    return get_one, get_all


# AWS's id lengths per resource (spec §1.2).
ID_LENGTHS = {"api": 10, "route": 7, "integration": 7, "authorizer": 6, "mapping": 6, "vpclink": 6}


def unused_id(ctx: Context, kind: str, parent: str = "") -> str:
    """A fresh random id in AWS's format for `kind` that no document under `parent` has yet."""
    while True:
        candidate = random_id(ID_LENGTHS[kind])
        if ctx.store.get(kind, parent, candidate) is None:
            return candidate
