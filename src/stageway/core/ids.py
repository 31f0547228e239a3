"""Identifiers in AWS's formats (spec §1.2): 10-char API ids, 7-char route/integration ids, request ids."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import string

_ALPHABET = string.ascii_lowercase + string.digits


def random_id(length: int) -> str:
    """A lower-case alphanumeric id like AWS's (`bwop0s66op` for APIs, `cayxufa` for routes)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def stable_id(seed: str, length: int = 10) -> str:
    """A lower-case alphanumeric id derived from `seed`, so an API defined in a file keeps its id."""
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[index])
    return "".join(chars)


def new_api_id() -> str:
    return random_id(10)


_random = b""
_random_at = 0


def random_bytes(count: int) -> bytes:
    """`count` random bytes from the OS, taken from a 4 KB buffer of `os.urandom`: one system call for a few
    hundred ids instead of one for each request (these ids need to be unpredictable, not secret)."""
    global _random, _random_at
    at = _random_at
    if at + count > len(_random):
        _random, at = os.urandom(4096), 0
    _random_at = at + count
    return _random[at : at + count]


def new_request_id() -> str:
    """15 url-safe base64 characters and `=`, like `JCIndgObPHcEJVQ=` (AWS's `apigw-requestid`)."""
    # 11 random bytes encode to 15 characters plus one "=" of padding: exactly AWS's shape.
    return base64.urlsafe_b64encode(random_bytes(11)).decode()
