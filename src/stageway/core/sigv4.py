"""AWS Signature Version 4, verified from the bytes a request arrived with.

Sans-IO: a `SignedRequest` (method, path and query exactly as sent, headers, body) and a clock in, the key
that signed it out, or a `SignatureError` that says which of AWS's answers to give. Used by the admin
listener (boto3 / AWS CLI calls) and meant for IAM authorization of data-plane requests as well.

The algorithm is AWS's (docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html), matched
line by line against botocore's signer (`botocore.auth.SigV4Auth`), which is what every test compares with:

    canonical request = METHOD \\n canonical URI \\n canonical query \\n canonical headers \\n
                        signed header names \\n payload hash
    string to sign    = "AWS4-HMAC-SHA256" \\n timestamp \\n date/region/service/aws4_request \\n
                        hex(sha256(canonical request))
    signing key       = HMAC chain "AWS4"+secret → date → region → service → "aws4_request"
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import Enum
from urllib.parse import quote, unquote_to_bytes

ALGORITHM = "AWS4-HMAC-SHA256"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# Payload markers a client may sign instead of the body's hash (the body then carries its own checksums).
UNHASHED_PAYLOADS = frozenset({UNSIGNED_PAYLOAD, "STREAMING-UNSIGNED-PAYLOAD-TRAILER"})

MAX_CLOCK_SKEW = timedelta(minutes=15)
"""AWS refuses a signature dated more than 15 minutes before or after its own clock."""
MAX_PRESIGN_EXPIRES_S = 7 * 24 * 3600
"""A presigned URL lives at most seven days (`X-Amz-Expires` <= 604800)."""

MISMATCH_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


class Problem(Enum):
    """Which of AWS's answers a failed check gets; the caller maps each to its wire error."""

    MISSING = "MissingAuthenticationToken"
    """No signature at all."""
    INCOMPLETE = "IncompleteSignature"
    """A signature that lacks a part (credential, signed headers, date, ...)."""
    UNKNOWN_KEY = "UnrecognizedClient"
    """The access key id is not one we know."""
    INVALID = "InvalidSignature"
    """Wrong signature, expired, not yet valid, or scoped wrongly."""


class SignatureError(Exception):
    def __init__(self, problem: Problem, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request exactly as it arrived."""

    method: str
    raw_path: str
    """The path as sent, still percent-encoded, without the query (`/2015-03-31/functions/arn%3Aaws...`)."""
    raw_query: str
    """The query as sent, without `?`."""
    headers: tuple[tuple[str, str], ...]
    """Every header as a (name, value) pair, in the order received; names in any case."""
    body: bytes

    @classmethod
    def of(
        cls, method: str, raw_path: str, raw_query: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> SignedRequest:
        return cls(method, raw_path, raw_query, tuple(headers), body)

    def header(self, name: str) -> str | None:
        """The header's values joined with "," (as AWS joins repeated headers), or None."""
        values = [value for key, value in self.headers if key.lower() == name]
        return ",".join(values) if values else None


@dataclass(frozen=True, slots=True)
class Verified:
    access_key: str
    region: str
    service: str
    signed_at: datetime


@dataclass(frozen=True, slots=True)
class _Signature:
    """The parts of a signature, from the Authorization header or from a presigned URL's query."""

    access_key: str
    scope_date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str
    signed_at: datetime
    expires_s: int | None
    """Only for presigned URLs: `X-Amz-Expires`."""


SecretLookup = Callable[[str], "str | None"]


def verify(request: SignedRequest, secret_for: SecretLookup, *, now: datetime) -> Verified:
    """Check `request`'s SigV4 signature; `secret_for(access_key)` is the secret or None for an unknown key.

    Raises `SignatureError`. Checks in AWS's order: a signature is present and complete, the key is known,
    the date is within the allowed window, the scope's date matches, the signature matches.
    """
    signature = _read_signature(request)
    secret = secret_for(signature.access_key)
    if secret is None:
        raise SignatureError(Problem.UNKNOWN_KEY, "The security token included in the request is invalid.")
    _check_time(signature, now)
    if signature.scope_date != signature.timestamp[:8]:
        raise SignatureError(
            Problem.INVALID,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{signature.scope_date}' != '{signature.timestamp[:8]}', from '{signature.timestamp}'.",
        )
    if "host" not in signature.signed_headers and ":authority" not in signature.signed_headers:
        raise SignatureError(Problem.INVALID, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")

    presigned = signature.expires_s is not None
    payload_hash = _payload_hash(request, presigned=presigned)
    key = signing_key(secret, signature.scope_date, signature.region, signature.service)
    scope = f"{signature.scope_date}/{signature.region}/{signature.service}/aws4_request"
    # A "+" in a query is a space to form encoders (and to botocore's own `params` path) but a plus sign to
    # a client that signs the URL as written: either reading may be the one that was signed.
    for plus_as_space in (False, True) if "+" in request.raw_query else (False,):
        canonical = canonical_request(
            request, signature.signed_headers, payload_hash, presigned=presigned, plus_as_space=plus_as_space
        )
        expected = hmac.new(key, string_to_sign(signature.timestamp, scope, canonical).encode(), hashlib.sha256)
        if hmac.compare_digest(expected.hexdigest().encode(), signature.signature.encode()):
            return Verified(signature.access_key, signature.region, signature.service, signature.signed_at)
    raise SignatureError(Problem.INVALID, MISMATCH_MESSAGE)


def canonical_request(
    request: SignedRequest,
    signed_headers: Iterable[str],
    payload_hash: str,
    *,
    presigned: bool = False,
    plus_as_space: bool = False,
) -> str:
    names = sorted({name.lower() for name in signed_headers})
    header_lines = "".join(f"{name}:{_canonical_header_value(request, name)}\n" for name in names)
    return "\n".join(
        [
            request.method.upper(),
            canonical_uri(request.raw_path),
            canonical_query(request.raw_query, drop_signature=presigned, plus_as_space=plus_as_space),
            header_lines,
            ";".join(names),
            payload_hash,
        ]
    )


def canonical_uri(raw_path: str) -> str:
    """Dot segments and empty segments removed, then every byte but `/` and `~` and unreserved encoded again.

    The second encoding is deliberate: for every service but S3, SigV4 encodes the already encoded path,
    so `functions/arn%3Aaws` is signed as `functions/arn%253Aaws`.
    """
    return quote(_remove_dot_segments(raw_path) if raw_path else "/", safe="/~")


def canonical_query(raw_query: str, *, drop_signature: bool = False, plus_as_space: bool = False) -> str:
    """Each name and value decoded, then encoded as RFC 3986 says (only `A-Za-z0-9-_.~` left bare), sorted."""
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        if plus_as_space:
            part = part.replace("+", "%20")
        name, _, value = part.partition("=")
        encoded_name = _encode_query_part(name)
        if drop_signature and encoded_name == "X-Amz-Signature":
            continue
        pairs.append((encoded_name, _encode_query_part(value)))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def string_to_sign(timestamp: str, scope: str, canonical: str) -> str:
    return "\n".join([ALGORITHM, timestamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 §5.2.4, plus the collapsing of empty segments ("//") that AWS services do.
    output: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if output:
                output.pop()
        else:
            output.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and output else ""
    return first + "/".join(output) + last


def _encode_query_part(text: str) -> str:
    return quote(unquote_to_bytes(text), safe="-_.~")


def _canonical_header_value(request: SignedRequest, name: str) -> str:
    # "Trimall": outer spaces removed, inner runs of spaces made one; repeated headers joined with ",".
    values = [" ".join(value.split()) for key, value in request.headers if key.lower() == name]
    return ",".join(values)


def _payload_hash(request: SignedRequest, *, presigned: bool) -> str:
    declared = request.header("x-amz-content-sha256")
    if declared is None and presigned:
        declared = _query_value(request.raw_query, "X-Amz-Content-Sha256")
    actual = hashlib.sha256(request.body).hexdigest() if request.body else EMPTY_SHA256
    if declared is None:
        return actual
    declared = declared.strip()
    if declared in UNHASHED_PAYLOADS:
        return declared
    if not hmac.compare_digest(declared.lower().encode(), actual.encode()):
        # The header is signed, the body is not: a body that does not match its signed hash was changed.
        raise SignatureError(Problem.INVALID, MISMATCH_MESSAGE)
    return declared


def _query_value(raw_query: str, wanted: str) -> str | None:
    for part in raw_query.split("&"):
        name, _, value = part.partition("=")
        if unquote_to_bytes(name).decode("utf-8", "replace") == wanted:
            return unquote_to_bytes(value).decode("utf-8", "replace")
    return None


_AUTH_PARAM = re.compile(r"\s*([A-Za-z]+)\s*=\s*([^,\s]*)\s*")


def _read_signature(request: SignedRequest) -> _Signature:
    authorization = request.header("authorization")
    if authorization is not None:
        return _from_header(request, authorization)
    if _query_value(request.raw_query, "X-Amz-Algorithm") is not None:
        return _from_query(request)
    raise SignatureError(Problem.MISSING, "Missing Authentication Token")


def _from_header(request: SignedRequest, authorization: str) -> _Signature:
    algorithm, _, rest = authorization.strip().partition(" ")
    params: dict[str, str] = {}
    for item in rest.split(","):
        match = _AUTH_PARAM.fullmatch(item)
        if match:
            params[match.group(1)] = match.group(2)
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not params.get(name)
    ]
    timestamp, signed_at = _header_date(request)
    if signed_at is None:
        missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    if algorithm != ALGORITHM or missing:
        # AWS quotes the header back; it holds the key id and the signature, never the secret.
        problems = " ".join(missing) if algorithm == ALGORITHM else f"Unsupported algorithm {algorithm!r}."
        raise SignatureError(Problem.INCOMPLETE, f"{problems} Authorization={authorization}")
    assert signed_at is not None and timestamp is not None
    access_key, scope_date, region, service = _credential(params["Credential"])
    return _Signature(
        access_key=access_key,
        scope_date=scope_date,
        region=region,
        service=service,
        signed_headers=tuple(params["SignedHeaders"].lower().split(";")),
        signature=params["Signature"],
        timestamp=timestamp,
        signed_at=signed_at,
        expires_s=None,
    )


def _from_query(request: SignedRequest) -> _Signature:
    def required(name: str) -> str:
        value = _query_value(request.raw_query, name)
        if not value:
            raise SignatureError(
                Problem.INCOMPLETE, f"AWS query-string parameters must include '{name}'. Re-examine the query-string parameters."
            )
        return value

    algorithm = required("X-Amz-Algorithm")
    if algorithm != ALGORITHM:
        raise SignatureError(Problem.INCOMPLETE, f"Unsupported algorithm {algorithm!r}.")
    credential = required("X-Amz-Credential")
    signed_headers = required("X-Amz-SignedHeaders")
    signature = required("X-Amz-Signature")
    timestamp = required("X-Amz-Date")
    expires_text = required("X-Amz-Expires")
    signed_at = _parse_timestamp(timestamp)
    if signed_at is None:
        raise SignatureError(Problem.INCOMPLETE, f"Invalid X-Amz-Date: {timestamp!r}.")
    if not expires_text.isdigit() or int(expires_text) > MAX_PRESIGN_EXPIRES_S:
        raise SignatureError(
            Problem.INVALID, f"X-Amz-Expires must be a number of seconds up to {MAX_PRESIGN_EXPIRES_S}."
        )
    access_key, scope_date, region, service = _credential(credential)
    return _Signature(
        access_key=access_key,
        scope_date=scope_date,
        region=region,
        service=service,
        signed_headers=tuple(signed_headers.lower().split(";")),
        signature=signature,
        timestamp=timestamp,
        signed_at=signed_at,
        expires_s=int(expires_text),
    )


def _credential(credential: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts):
        raise SignatureError(
            Problem.INCOMPLETE,
            f"Credential should be scoped to a valid region, not '{parts[2] if len(parts) > 2 else ''}'.",
        )
    access_key, date, region, service, terminator = parts
    if terminator != "aws4_request":
        raise SignatureError(
            Problem.INCOMPLETE, f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
        )
    return access_key, date, region, service


def _header_date(request: SignedRequest) -> tuple[str | None, datetime | None]:
    amz_date = request.header("x-amz-date")
    if amz_date is not None:
        parsed = _parse_timestamp(amz_date.strip())
        return (amz_date.strip(), parsed) if parsed else (None, None)
    date = request.header("date")
    if date is not None:
        try:
            parsed = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return None, None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
        return parsed.strftime(TIMESTAMP_FORMAT), parsed
    return None, None


def _parse_timestamp(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _check_time(signature: _Signature, now: datetime) -> None:
    stamp = signature.timestamp
    now_text = now.astimezone(UTC).strftime(TIMESTAMP_FORMAT)
    if signature.signed_at - now > MAX_CLOCK_SKEW:
        limit = (now + MAX_CLOCK_SKEW).strftime(TIMESTAMP_FORMAT)
        raise SignatureError(
            Problem.INVALID,
            f"Signature not yet current: {stamp} is still later than {limit} ({now_text} + 15 min.)",
        )
    if signature.expires_s is not None:
        expiry = signature.signed_at + timedelta(seconds=signature.expires_s)
        if now > expiry:
            raise SignatureError(
                Problem.INVALID,
                f"Signature expired: {stamp} is now earlier than "
                f"{(now - timedelta(seconds=signature.expires_s)).strftime(TIMESTAMP_FORMAT)} "
                f"({now_text} - {signature.expires_s} sec.)",
            )
        return
    if now - signature.signed_at > MAX_CLOCK_SKEW:
        limit = (now - MAX_CLOCK_SKEW).strftime(TIMESTAMP_FORMAT)
        raise SignatureError(
            Problem.INVALID, f"Signature expired: {stamp} is now earlier than {limit} ({now_text} - 15 min.)"
        )
