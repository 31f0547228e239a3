"""Identifiers in AWS's formats (spec §1.2): 10-char API ids, 7-char route/integration ids, request ids."""

from __future__ import annotations

import binascii
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


# Request ids and trace ids are made a batch at a time, with `map` and slices rather than a loop: a request
# takes one from a list instead of running the encoding's Python code (base64's module functions) and a
# getrandom() system call for its own.
_BATCH = 256
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_request_ids: list[str] = []
_trace_digits: list[str] = []


def _forget_batches() -> None:
    # A forked child must not hand out the ids its parent has (or will have) handed out.
    _request_ids.clear()
    _trace_digits.clear()


os.register_at_fork(after_in_child=_forget_batches)


def record_slices(start: int, end: int, size: int, count: int) -> map[slice]:
    """Items `start:end` of each of `count` consecutive records of `size` items (a batch cut up in C)."""
    return map(slice, range(start, size * count, size), range(end, size * count + 1, size))


def _new_request_ids() -> list[str]:
    raw = os.urandom(11 * _BATCH)
    # b2a_base64 ends each encoding with a newline, so one split separates the ids.
    encoded = b"".join(map(binascii.b2a_base64, map(raw.__getitem__, record_slices(0, 11, 11, _BATCH))))
    return encoded.translate(_URLSAFE).decode().split()


def new_request_id() -> str:
    """15 url-safe base64 characters and `=`, like `JCIndgObPHcEJVQ=` (AWS's `apigw-requestid`)."""
    # 11 random bytes encode to 15 characters plus one "=" of padding: exactly AWS's shape.
    ids = _request_ids
    if not ids:
        ids += _new_request_ids()
    return ids.pop()


def trace_digits() -> str:
    """24 random hex digits: the random part of an X-Ray trace id."""
    digits = _trace_digits
    if not digits:
        digits += map(os.urandom(12 * _BATCH).hex().__getitem__, record_slices(0, 24, 24, _BATCH))
    return digits.pop()
