"""What a Lambda proxy integration's answer means, payload formats 2.0 and 1.0 (spec §4.4, §13 items 1, 2, 25).

Pure module: the Invoke response payload in, a `GatewayResponse` out. A payload AWS would refuse raises
`IntegrationFailure` (the client sees 500 `Internal Server Error`); its detail says what was wrong and ends
up in `$context.integrationErrorMessage`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Container
from typing import Any

import orjson

from stageway.core.errors import IntegrationFailure
from stageway.core.http import GatewayResponse

MALFORMED = "Malformed Lambda proxy response"

# Both formats: a response object without a Content-Type goes out as text/plain (REST would say
# application/json); an inferred 2.0 response is JSON (spec §4.4, §13 item 2).
_DEFAULT_CONTENT_TYPE = ("content-type", "text/plain; charset=utf-8")
_JSON_CONTENT_TYPE = ("content-type", "application/json")

# RFC 9110 token: what may stand as a header name on the wire.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# A CR, LF or NUL in a value would end the header early or split it into two: never forward one.
_BAD_HEADER_VALUE = re.compile(r"[\r\n\x00]")


def _malformed(reason: str) -> IntegrationFailure:
    return IntegrationFailure(f"{MALFORMED}: {reason}")


def _load(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as error:
        raise _malformed(f"the payload is not valid JSON ({error})") from None


def _status_code(response: dict[str, Any]) -> int:
    status = response["statusCode"]
    # `type(...) is int` refuses booleans too; AWS answers 500 to 200.5 and to "200" alike.
    if type(status) is not int:
        raise _malformed(f"statusCode must be an integer, got {orjson.dumps(status).decode()}")
    if not 100 <= status <= 599:
        raise _malformed(f"statusCode must be between 100 and 599, got {status}")
    return status


# Header names already found valid, and their lower-case form: a function sends the same few names with
# every response. Bounded, so that a function inventing names cannot grow it without end.
_valid_names: dict[str, str] = {}
_VALID_NAMES_KEPT = 1024


def _header_name(name: str) -> str:
    lowered = _valid_names.get(name)
    if lowered is not None:
        return lowered
    if not _HEADER_NAME.fullmatch(name):
        raise _malformed(f"invalid header name {name!r}")
    lowered = name.lower()
    if len(_valid_names) < _VALID_NAMES_KEPT:
        _valid_names[name] = lowered
    return lowered


def _header_value(name: str, value: Any) -> str | None:
    """The text AWS sends for a header value; None for a null value, which sends nothing [INF]."""
    if type(value) is str:  # what JSON gives: `orjson` makes no subclasses
        text = value
    elif value is None:
        return None
    elif isinstance(value, (bool, int, float)):
        # Numbers and booleans go out as their JSON text: 3 → "3", true → "true".
        text = orjson.dumps(value).decode()
    else:
        raise _malformed(f"header {name!r} must have a string value, got {type(value).__name__}")
    if _BAD_HEADER_VALUE.search(text):
        raise _malformed(f"header {name!r} has a value with CR, LF or NUL")
    return text


def _mapping(response: dict[str, Any], key: str) -> dict[str, Any]:
    """An optional object-valued key; null and absent both mean empty."""
    value = response.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _malformed(f"{key} must be an object, got {type(value).__name__}")
    return value


def _add_headers(
    headers: list[tuple[str, str]],
    single: dict[str, Any],
    skip: Container[tuple[str, str]] | None = None,
) -> None:
    """Append the `headers` object's entries, verbatim: a value with commas stays one header."""
    for raw_name, raw_value in single.items():
        name = _header_name(raw_name)
        value = _header_value(raw_name, raw_value)
        if value is not None and (skip is None or (name, value) not in skip):
            headers.append((name, value))


def _with_default_content_type(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    for name, _ in headers:
        if name == "content-type":
            return headers
    headers.append(_DEFAULT_CONTENT_TYPE)
    return headers


def _body(response: dict[str, Any]) -> bytes:
    body = response.get("body")
    encoded = response.get("isBase64Encoded")
    if type(body) is str and (encoded is None or encoded is False):
        return body.encode()  # the usual case, checked first
    if encoded is not None and not isinstance(encoded, bool):
        raise _malformed(f"isBase64Encoded must be a boolean, got {type(encoded).__name__}")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise _malformed(f"body must be a string, got {type(body).__name__}")
    if encoded:
        # HTTP APIs always honour the flag: there is no binary media type negotiation (spec §4.4).
        try:
            return base64.b64decode(body)
        except (binascii.Error, ValueError):
            raise _malformed("body is not valid base64 although isBase64Encoded is true") from None
    return body.encode()


def parse_v2_response(payload: bytes) -> GatewayResponse:
    """A payload format 2.0 answer: a response object, or any other JSON sent as a 200 JSON body."""
    response = _load(payload)
    if type(response) is dict and "statusCode" in response:
        status = _status_code(response)
        headers: list[tuple[str, str]] = []
        cookies = response.get("cookies")
        if cookies is not None:
            if not isinstance(cookies, list):
                raise _malformed(f"cookies must be an array, got {type(cookies).__name__}")
            for cookie in cookies:
                if not isinstance(cookie, str):
                    raise _malformed(f"cookies must hold strings, got {type(cookie).__name__}")
                # One Set-Cookie per array entry, ahead of any set-cookie in `headers` (spec §13 item 25).
                value = _header_value("set-cookie", cookie)
                if value is not None:
                    headers.append(("set-cookie", value))
        # `multiValueHeaders` is no part of the 2.0 response format; like other unknown keys it is ignored.
        single = response.get("headers")
        if single is not None:
            _add_headers(headers, single if type(single) is dict else _mapping(response, "headers"))
        return GatewayResponse(status, _with_default_content_type(headers), _body(response))

    # Anything else that parses is the body of a 200 JSON response, the payload's own text; a JSON string
    # is sent unescaped ("Hello" → Hello). Its `headers`/`cookies`, if any, are just part of that body.
    if isinstance(response, str):
        if response.lstrip().startswith("{"):
            # Observed: a string that looks like an object but does not parse is a 500 (spec §4.4 item 4).
            try:
                orjson.loads(response)
            except orjson.JSONDecodeError:
                raise _malformed(
                    "the payload is a string that looks like a JSON object but is not one"
                ) from None
        body = response.encode()
    else:
        body = payload
    return GatewayResponse(200, [_JSON_CONTENT_TYPE], body)


def parse_v1_response(payload: bytes) -> GatewayResponse:
    """A payload format 1.0 answer: it must be a response object with an integer statusCode."""
    response = _load(payload)
    if not isinstance(response, dict):
        raise _malformed(f"the payload must be a JSON object, got {type(response).__name__}")
    if "statusCode" not in response:
        raise _malformed("statusCode is missing")
    status = _status_code(response)

    headers: list[tuple[str, str]] = []
    sent: set[tuple[str, str]] = set()
    for raw_name, raw_values in _mapping(response, "multiValueHeaders").items():
        name = _header_name(raw_name)
        if raw_values is None:
            continue
        if not isinstance(raw_values, list):
            raise _malformed(
                f"multiValueHeaders[{raw_name!r}] must be an array, got {type(raw_values).__name__}"
            )
        for raw_value in raw_values:
            value = _header_value(raw_name, raw_value)
            if value is not None:
                headers.append((name, value))
                sent.add((name, value))
    # AWS merges the two maps: every multi-value and the single value, except that a pair already sent from
    # multiValueHeaders is not repeated (AWS's documented rule for the REST-shaped 1.0 response).
    _add_headers(headers, _mapping(response, "headers"), skip=sent)
    return GatewayResponse(status, _with_default_content_type(headers), _body(response))
