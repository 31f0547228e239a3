"""Errors of the data plane, each with AWS's status code and JSON body.

AWS answers gateway-made errors with `{"message": "..."}` and `content-type: application/json`
(spec §4.6). Raise the exception where the problem is found; the server renders it in one place.
"""

from __future__ import annotations

from stageway.core.http import GatewayResponse


class GatewayError(Exception):
    """An error the gateway answers itself, with AWS's status and message."""

    status: int = 500
    message: str = "Internal Server Error"

    def __init__(self, detail: str = "") -> None:
        # `detail` is for logs and `$context.integrationErrorMessage`, never for the client.
        super().__init__(detail or self.message)
        self.detail = detail

    def to_response(self) -> GatewayResponse:
        return error_response(self.status, self.message)


class NotFound(GatewayError):
    status, message = 404, "Not Found"


class Unauthorized(GatewayError):
    status, message = 401, "Unauthorized"


class Forbidden(GatewayError):
    status, message = 403, "Forbidden"


class PayloadTooLarge(GatewayError):
    status, message = 413, "Request Entity Too Large"


class TooManyRequests(GatewayError):
    status, message = 429, "Too Many Requests"


class InternalServerError(GatewayError):
    """Lambda errors, malformed Lambda responses, unreachable backends (spec §4.4, §4.6)."""

    status, message = 500, "Internal Server Error"


class IntegrationFailure(InternalServerError):
    """The integration could not be called or answered garbage; `detail` says why."""


class IntegrationTimeout(GatewayError):
    """The integration did not answer within `timeoutInMillis`: HTTP APIs answer 503 (REST would say 504)."""

    status, message = 503, "Service Unavailable"


_ERROR_BODIES: dict[tuple[int, str], bytes] = {}


def error_response(status: int, message: str) -> GatewayResponse:
    """AWS's JSON error body; bodies are cached because the same few messages repeat."""
    body = _ERROR_BODIES.get((status, message))
    if body is None:
        import orjson

        body = orjson.dumps({"message": message})
        _ERROR_BODIES[(status, message)] = body
    return GatewayResponse(status, [("content-type", "application/json")], body)
