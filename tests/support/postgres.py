"""A PostgreSQL store of its own for a test: a fresh schema in the machine's real server, dropped afterwards.

The server is the one at 127.0.0.1:5432 (trust authentication; `.ci/run` starts it when it is down).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

SERVER = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def postgres_store_url() -> Iterator[str]:
    """A store URL whose tables live in a new schema; the schema and everything in it go at exit."""
    schema = f"stageway_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True, connect_timeout=10) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(SERVER, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
