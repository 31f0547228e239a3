"""Ids an invocation gets when the caller gives none: Lambda's request id and X-Ray trace header shapes."""

from __future__ import annotations

import re
import time
import uuid

from stageway.functions.invocation import new_invocation_id, new_trace_id


def test_invocation_ids_are_random_version_4_uuids() -> None:
    ids = [new_invocation_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(value)
        assert str(parsed) == value
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
    # Both random bits of the variant digit vary: 8, 9, a and b all occur.
    assert {value[19] for value in ids} == set("89ab")


def test_trace_ids_carry_the_time_and_24_random_hex_digits() -> None:
    before = int(time.time())
    trace_id = new_trace_id()
    after = int(time.time())
    match = re.fullmatch(r"Root=1-([0-9a-f]{8})-([0-9a-f]{24});Sampled=0", trace_id)
    assert match is not None
    assert before <= int(match[1], 16) <= after
    assert new_trace_id() != trace_id
