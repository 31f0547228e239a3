"""Lambda proxy request events, payload formats 2.0 and 1.0 (spec §4.2, §4.3, §13 items 6, 7, 15, 16, 24).

Pure module: a request and its route in, a plain dict out. Every request to a Lambda integration passes
through here, so the builders write each dict once, in AWS's key order, and never copy.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote

import orjson

from stageway.core.clock import clf_time
from stageway.core.http import IncomingRequest, RouteContext

# AWS delivers a request body as text only for these media types (parameters ignored); everything else,
# a missing Content-Type and form posts included, arrives base64-encoded (spec §4.2, §13 item 7).
_TEXT_MEDIA_TYPES = frozenset({"application/json", "application/xml", "application/javascript"})


def is_text_content_type(content_type: str | None) -> bool:
    """Whether AWS hands a body of this Content-Type to Lambda as text rather than base64."""
    if not content_type:
        return False
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type.startswith("text/") or media_type in _TEXT_MEDIA_TYPES


def parse_query_string(raw_query: str) -> list[tuple[str, str]]:
    """Decoded (name, value) pairs in order, as `urllib.parse.parse_qsl(raw_query, keep_blank_values=True)`.

    A bare `a` gives ("a", ""), empty pieces (`a=1&&b=2`) are skipped and `+` means a space: AWS decodes
    `?sort=-+createdAt` to `"- createdAt"`. Written out because most pieces need no decoding at all.
    """
    pairs: list[tuple[str, str]] = []
    if not raw_query:
        return pairs
    for piece in raw_query.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        if "%" in name or "+" in name:
            name = unquote(name.replace("+", " "))
        if "%" in value or "+" in value:
            value = unquote(value.replace("+", " "))
        pairs.append((name, value))
    return pairs


def _body_fields(body: bytes, content_type: str | None) -> tuple[str, bool]:
    """The event's `body` text and `isBase64Encoded` flag."""
    if is_text_content_type(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            # A "text" body that is not UTF-8 cannot travel as JSON text; base64 keeps every byte [INF].
            pass
    return base64.b64encode(body).decode("ascii"), True


def _v2_headers(headers: list[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    """The `headers` map and the `cookies` array of a request that repeats a header or sends cookies."""
    header_map: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        if name == "cookie":
            # AWS splits every Cookie header into the `cookies` array and drops it from `headers`.
            cookies.extend(part for part in (raw.strip() for raw in value.split(";")) if part)
            continue
        joined = header_map.get(name)
        # AWS joins repeated headers with a comma and no space in payload 2.0.
        header_map[name] = value if joined is None else f"{joined},{value}"
    return header_map, cookies


def build_v2_event(
    request: IncomingRequest, route: RouteContext, headers: list[tuple[str, str]]
) -> dict[str, Any]:
    """The payload format 2.0 event. `headers` is `with_forwarding_headers(request)` (names lower-case)."""
    header_map, cookies = v2_headers(headers)
    path = v2_path(route.stage_raw_path, route.route_raw_path, route.mapping_key)
    domain_name = route.domain_name or request.host
    return v2_event(
        route.route_key,
        path,
        request.raw_query,
        cookies,
        header_map,
        v2_query_parameters(request.raw_query),
        route.path_parameters,
        route.stage_variables,
        route.account_id,
        route.api_id,
        route.authorizer,
        domain_name,
        domain_name.partition(".")[0],
        request.method,
        request.protocol,
        request.source_ip,
        request.request_id,
        route.stage,
        request.time_epoch_ms,
        request.body,
    )


def v2_headers(headers: list[tuple[str, str]]) -> tuple[dict[str, str], list[str] | None]:
    """The event's `headers` map and `cookies` array (None: no cookie) from (lower-case name, value) pairs."""
    header_map = dict(headers)
    if len(header_map) != len(headers) or "cookie" in header_map:
        # Most requests repeat no header and send no cookie: for them `dict` alone is the whole map.
        return _v2_headers(headers)
    return header_map, None


def v2_path(stage_raw_path: str, route_raw_path: str, mapping_key: str | None) -> str:
    """`rawPath` (and `requestContext.http.path`): percent-decoded (`/users/John Doe`); on a custom domain
    without the API mapping key (1.0's `path` keeps it; spec §9)."""
    path = stage_raw_path if mapping_key is None else route_raw_path
    return unquote(path) if "%" in path else path


def v2_query_parameters(raw_query: str) -> dict[str, str] | None:
    """`queryStringParameters`: decoded, repeated names joined with ","; None when there are none."""
    if not raw_query:
        return None
    query_map: dict[str, str] = {}
    for name, value in parse_query_string(raw_query):
        joined = query_map.get(name)
        query_map[name] = value if joined is None else f"{joined},{value}"
    return query_map or None


def v2_event(
    route_key: str,
    path: str,
    raw_query: str,
    cookies: list[str] | None,
    header_map: dict[str, str],
    query_map: dict[str, str] | None,
    path_parameters: dict[str, str],
    stage_variables: dict[str, str],
    account_id: str,
    api_id: str,
    authorizer: dict[str, Any] | None,
    domain_name: str,
    domain_prefix: str,
    method: str,
    protocol: str,
    source_ip: str,
    request_id: str,
    stage: str,
    time_epoch_ms: int,
    body: bytes,
) -> dict[str, Any]:
    """The payload format 2.0 event from its parts, in AWS's key order. The pipeline's `build_v2_event` and
    the listener's Lambda lane (which keeps the parts that depend only on the route and URL from one request
    to the next) both make it here, so the two cannot differ."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
    }
    # Empty fields are omitted in 2.0, never null: strict validators reject null (spec §13 item 24).
    if cookies:
        event["cookies"] = cookies
    event["headers"] = header_map
    if query_map:
        event["queryStringParameters"] = query_map
    if path_parameters:
        event["pathParameters"] = path_parameters
    if stage_variables:
        event["stageVariables"] = stage_variables
    context: dict[str, Any] = {"accountId": account_id, "apiId": api_id}
    if authorizer is not None:
        context["authorizer"] = authorizer
    # One literal for the rest: its keys are stored once, in AWS's order, instead of one by one.
    context.update(
        {
            "domainName": domain_name,
            "domainPrefix": domain_prefix,
            "http": {
                "method": method,
                "path": path,
                "protocol": protocol,
                "sourceIp": source_ip,
                "userAgent": header_map.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": stage,
            "time": clf_time(time_epoch_ms),
            "timeEpoch": time_epoch_ms,
        }
    )
    event["requestContext"] = context
    content_type = header_map.get("content-type")
    if body:
        event["body"], event["isBase64Encoded"] = _body_fields(body, content_type)
    else:
        # No body, no `body` key; the flag still follows the Content-Type rule: AWS's sample body-less GET
        # without a Content-Type says `isBase64Encoded: true` (spec §4.2).
        event["isBase64Encoded"] = content_type is None or not is_text_content_type(content_type)
    return event


def build_v1_event(
    request: IncomingRequest, route: RouteContext, headers: list[tuple[str, str]]
) -> dict[str, Any]:
    """The payload format 1.0 event. `headers` is `with_forwarding_headers(request)` (names lower-case)."""
    domain_name = route.domain_name or request.host
    query_map, multi_query = v1_query_parameters(request.raw_query)
    return v1_event(
        route.resource_path,
        route.stage_raw_path,
        headers,
        query_map,
        multi_query,
        route.path_parameters,
        route.stage_variables,
        route.account_id,
        route.api_id,
        route.authorizer,
        route.identity,
        domain_name,
        domain_name.partition(".")[0],
        request.method,
        request.protocol,
        request.source_ip,
        request.request_id,
        route.stage,
        request.time_epoch_ms,
        request.body,
    )


def v1_query_parameters(raw_query: str) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """`queryStringParameters` (a repeated name's last value) and `multiValueQueryStringParameters`; both
    None when there are none."""
    query = parse_query_string(raw_query)
    if not query:
        return None, None
    query_map: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in query:
        query_map[name] = value
        values = multi_query.get(name)
        if values is None:
            multi_query[name] = [value]
        else:
            values.append(value)
    return query_map, multi_query


def v1_event(
    resource_path: str,
    path: str,
    headers: list[tuple[str, str]],
    query_map: dict[str, str] | None,
    multi_query: dict[str, list[str]] | None,
    path_parameters: dict[str, str],
    stage_variables: dict[str, str],
    account_id: str,
    api_id: str,
    authorizer: dict[str, Any] | None,
    identity: dict[str, Any] | None,
    domain_name: str,
    domain_prefix: str,
    method: str,
    protocol: str,
    source_ip: str,
    request_id: str,
    stage: str,
    time_epoch_ms: int,
    body: bytes,
) -> dict[str, Any]:
    """The payload format 1.0 event from its parts (see `v2_event`). `path` is the request path as sent,
    percent-encoding and a named stage's prefix included (`/prod/pets/John%20Doe`)."""
    # 1.0 keeps the Cookie header; the single-value maps hold the last value of a repeated name.
    header_map: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        header_map[name] = value
        values = multi_headers.get(name)
        if values is None:
            multi_headers[name] = [value]
        else:
            values.append(value)
    user_agent = header_map.get("user-agent")
    # Unlike 2.0, a body-less 1.0 event says `body: null, isBase64Encoded: false` (spec §4.3 example).
    text: str | None = None
    is_base64 = False
    if body:
        text, is_base64 = _body_fields(body, header_map.get("content-type"))
    return {
        "version": "1.0",
        "resource": resource_path,
        "path": path,
        "httpMethod": method,
        "headers": header_map,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query_map,
        "multiValueQueryStringParameters": multi_query,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            # AWS's 1.0 example shows both keys null on a route without an authorizer.
            "authorizer": authorizer if authorizer is not None else {"claims": None, "scopes": None},
            "domainName": domain_name,
            "domainPrefix": domain_prefix,
            "extendedRequestId": request_id,
            "httpMethod": method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": source_ip,
                "user": None,
                "userAgent": user_agent,
                "userArn": None,
                "clientCert": None,
                # An IAM-authorized caller fills in who they are (spec §7.3).
                **(identity or {}),
            },
            "path": path,
            "protocol": protocol,
            "requestId": request_id,
            "requestTime": clf_time(time_epoch_ms),
            "requestTimeEpoch": time_epoch_ms,
            "resourceId": None,
            "resourcePath": resource_path,
            "stage": stage,
        },
        "pathParameters": path_parameters or None,
        "stageVariables": stage_variables or None,
        "body": text,
        "isBase64Encoded": is_base64,
    }


def encode_event(event: dict[str, Any]) -> bytes:
    """The event as the Invoke payload."""
    return orjson.dumps(event)
