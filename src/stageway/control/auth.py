"""Who may call the admin listener: `--admin-credentials KEY:SECRET[,KEY2:SECRET2]`, checked with SigV4.

With credentials configured, every admin request must be signed (Authorization header or presigned query)
with one of those keys, exactly as AWS requires of boto3 and the AWS CLI; the refusals are AWS's own
(`MissingAuthenticationTokenException`, `UnrecognizedClientException`, `InvalidSignatureException`, ...).
Without credentials the listener is open (it is bound to loopback by default). Secrets are never logged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from stageway.control.wire import (
    AdminRequest,
    AwsError,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from stageway.core.sigv4 import Problem, SignatureError, SignedRequest, verify

log = logging.getLogger("stageway.admin.auth")

CREDENTIALS_ENV = "STAGEWAY_ADMIN_CREDENTIALS"

Authenticate = Callable[[AdminRequest], None]


class IncompleteSignatureException(AwsError):
    # AWS's common errors: "The request signature does not conform to AWS standards", HTTP 400.
    status, error_type = 400, "IncompleteSignatureException"


_ERRORS: dict[Problem, type[AwsError]] = {
    Problem.MISSING: MissingAuthenticationTokenException,
    Problem.INCOMPLETE: IncompleteSignatureException,
    Problem.UNKNOWN_KEY: UnrecognizedClientException,
    Problem.INVALID: InvalidSignatureException,
}


class CredentialsError(ValueError):
    """`--admin-credentials` is not `KEY:SECRET[,KEY:SECRET]`; the message never contains a secret."""


def parse_credentials(text: str) -> dict[str, str]:
    """`KEY:SECRET[,KEY2:SECRET2]` → {key: secret}. Secrets may contain ":" (only the first one splits)."""
    credentials: dict[str, str] = {}
    for number, item in enumerate(text.split(","), start=1):
        item = item.strip()
        if not item:
            continue
        key, separator, secret = item.partition(":")
        key, secret = key.strip(), secret.strip()
        if not separator or not key or not secret:
            # Never quote the item: without its ":" it may be the secret itself.
            raise CredentialsError(f"admin credential #{number} is not KEY:SECRET")
        if key in credentials:
            raise CredentialsError(f"admin credential key {key!r} is given twice")
        credentials[key] = secret
    if not credentials:
        raise CredentialsError("admin credentials are empty: give KEY:SECRET[,KEY:SECRET]")
    return credentials


def credentials_from(text: str | None = None, environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The configured credentials: the option's text, else `STAGEWAY_ADMIN_CREDENTIALS`, else None (open)."""
    if text is None:
        text = (os.environ if environ is None else environ).get(CREDENTIALS_ENV)
    if text is None or not text.strip():
        return None
    return parse_credentials(text)


class SigV4Authenticator:
    """The `authenticate` callable of the admin app: returns when the request is signed by a known key."""

    def __init__(self, credentials: Mapping[str, str], *, clock: Callable[[], datetime] | None = None) -> None:
        self._secrets = dict(credentials)
        self._clock = clock or (lambda: datetime.now(UTC))

    def __repr__(self) -> str:  # never show the secrets
        return f"SigV4Authenticator(keys={sorted(self._secrets)})"

    def __call__(self, request: AdminRequest) -> None:
        signed = SignedRequest.of(
            request.method,
            request.raw_path or _encoded_path(request.path),
            request.raw_query,
            request.headers.items(),
            request.body,
        )
        try:
            verify(signed, self._secrets.get, now=self._clock())
        except SignatureError as error:
            # Only the problem and the path: the message may quote the Authorization header.
            log.info("admin request refused (%s): %s %s", error.problem.value, request.method, request.path)
            raise _ERRORS[error.problem](error.message) from None


def build_authenticator(text: str | None = None) -> Authenticate:
    """What `stageway serve` passes to the admin app: a SigV4 check, or one that lets everything in."""
    credentials = credentials_from(text)
    if credentials is None:
        return _open
    return SigV4Authenticator(credentials)


def _open(request: AdminRequest) -> None:
    return None


def _encoded_path(path: str) -> str:
    # Only when the server could not give the raw path: botocore encodes everything but unreserved and "/".
    from urllib.parse import quote

    return quote(path, safe="/-_.~")
