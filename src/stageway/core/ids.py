"""Identifiers in AWS's formats (spec §1.2): 10-char API ids, 7-char route/integration ids, request ids."""

from __future__ import annotations

import binascii
import hashlib
import os
import secrets
import string
from collections.abc import Callable

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


BATCH = 256
"""Ids made at a time by `batched` functions."""


def batched(make_batch: Callable[[], list[str]]) -> Callable[[], str]:
    """A function handing out the items of `make_batch()`'s lists one at a time, making the next list when
    one runs out. Ids are made `BATCH` at a time, with `map` and slices rather than a loop (one getrandom()
    system call and a few C-level passes for all of them): an id costs a request a list pop instead of
    its own system call and encoding. A forked child forgets the batch: it must not hand out the ids its
    parent has (or will have) handed out."""
    batch: list[str] = []
    os.register_at_fork(after_in_child=batch.clear)
    take = batch.pop

    def next_id() -> str:
        if not batch:
            batch.extend(make_batch())
        return take()

    return next_id


def record_slices(start: int, end: int, size: int, count: int) -> map[slice]:
    """Items `start:end` of each of `count` consecutive records of `size` items (a batch cut up in C)."""
    return map(slice, range(start, size * count, size), range(end, size * count + 1, size))


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _request_ids() -> list[str]:
    # 11 random bytes encode to 15 characters plus one "=" of padding: exactly AWS's shape.
    raw = os.urandom(11 * BATCH)
    # b2a_base64 ends each encoding with a newline, so one split separates the ids.
    encoded = b"".join(map(binascii.b2a_base64, map(raw.__getitem__, record_slices(0, 11, 11, BATCH))))
    return encoded.translate(_URLSAFE).decode().split()


def _trace_digit_strings() -> list[str]:
    return list(map(os.urandom(12 * BATCH).hex().__getitem__, record_slices(0, 24, 24, BATCH)))


new_request_id = batched(_request_ids)
"""15 url-safe base64 characters and `=`, like `JCIndgObPHcEJVQ=` (AWS's `apigw-requestid`)."""

trace_digits = batched(_trace_digit_strings)
"""24 random hex digits: the random part of an X-Ray trace id."""
