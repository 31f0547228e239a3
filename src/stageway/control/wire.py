"""The admin listener's request/response objects and AWS's error wire format.

apigatewayv2 and Lambda are both REST-JSON services: botocore reads the error type from the
`x-amzn-ErrorType` header and the message from the JSON body (spec §1.3). One exception class per AWS error,
raised where the problem is found, rendered here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(slots=True)
class AdminRequest:
    method: str
    path: str
    """Percent-decoded path (`/v2/apis/abc/routes`)."""
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Lower-case names; repeated headers joined with ","."""
    body: bytes
    raw_path: str = ""
    raw_query: str = ""

    def json(self) -> dict[str, Any]:
        """The JSON object body; an empty body is `{}`; anything else is a BadRequestException."""
        if not self.body.strip():
            return {}
        try:
            value = orjson.loads(self.body)
        except orjson.JSONDecodeError as error:
            raise BadRequestException(f"Could not parse request body into json: {error}") from None
        if not isinstance(value, dict):
            raise BadRequestException("Could not parse request body into json: expected an object")
        return value

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass(slots=True)
class AdminResponse:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, value: Any, headers: list[tuple[str, str]] | None = None) -> AdminResponse:
        return cls(status, orjson.dumps(value), [("content-type", "application/json"), *(headers or [])])


class AwsError(Exception):
    """An AWS error with its wire form: status, `x-amzn-ErrorType`, and a JSON body with `message`."""

    status = 400
    error_type = "BadRequestException"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def to_response(self) -> AdminResponse:
        body = {"message": self.message, **self.extra}
        return AdminResponse.json(
            self.status,
            body,
            [("x-amzn-errortype", self.error_type), ("x-amzn-requestid", str(uuid.uuid4()))],
        )


# apigatewayv2 (botocore model: apigatewayv2/2018-11-29/service-2.json)
class BadRequestException(AwsError):
    status, error_type = 400, "BadRequestException"


class AccessDeniedException(AwsError):
    status, error_type = 403, "AccessDeniedException"


class NotFoundException(AwsError):
    status, error_type = 404, "NotFoundException"


class ConflictException(AwsError):
    status, error_type = 409, "ConflictException"


class TooManyRequestsException(AwsError):
    status, error_type = 429, "TooManyRequestsException"


# Signature checks, as AWS's front door answers them for every service.
class UnrecognizedClientException(AwsError):
    status, error_type = 403, "UnrecognizedClientException"


class InvalidSignatureException(AwsError):
    status, error_type = 403, "InvalidSignatureException"


class MissingAuthenticationTokenException(AwsError):
    status, error_type = 403, "MissingAuthenticationTokenException"


# Lambda (botocore model: lambda/2015-03-31/service-2.json); Lambda's errors also carry "Type".
class LambdaError(AwsError):
    def to_response(self) -> AdminResponse:
        self.extra.setdefault("Type", "User")
        return super().to_response()


class ResourceNotFoundException(LambdaError):
    status, error_type = 404, "ResourceNotFoundException"


class InvalidParameterValueException(LambdaError):
    status, error_type = 400, "InvalidParameterValueException"


class ResourceConflictException(LambdaError):
    status, error_type = 409, "ResourceConflictException"


class InvalidRequestContentException(LambdaError):
    status, error_type = 400, "InvalidRequestContentException"


class RequestTooLargeException(LambdaError):
    status, error_type = 413, "RequestTooLargeException"


class ServiceException(LambdaError):
    status, error_type = 500, "ServiceException"
