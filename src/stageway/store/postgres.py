"""`postgresql://USER@HOST:PORT/DB`: one state shared by stageway nodes on several machines.

The same model as the SQLite store: documents as JSON bytes keyed by (kind, parent, id), listed in the order
they were first written, and a version that grows by one with every committed transaction that wrote
something (each node polls it and recompiles when it moves). Tables are named `stageway_*`, so a database
can be shared with other software; libpq's own URL parameters choose anything else, e.g. a schema with
`?options=-csearch_path%3Dgateway`.

Transactions serialise on the version row (`SELECT ... FOR UPDATE` when the outermost one begins), as the
SQLite store's `BEGIN IMMEDIATE` does: two nodes' read-modify-writes queue rather than interleave, and every
committed change gets its own version. Each thread has its own connection; a connection that broke (the
server restarted) is replaced at the next call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from stageway.store.base import Document, Store

try:
    import psycopg
except ImportError:  # pragma: no cover - psycopg is a dependency; this only words the error
    psycopg = None  # type: ignore[assignment]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stageway_documents (
    kind TEXT NOT NULL, parent TEXT NOT NULL, id TEXT NOT NULL,
    seq BIGINT NOT NULL, doc BYTEA NOT NULL,
    PRIMARY KEY (kind, parent, id)
);
CREATE TABLE IF NOT EXISTS stageway_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO stageway_meta VALUES ('version', 0), ('seq', 0) ON CONFLICT (key) DO NOTHING;
"""
_SCHEMA_LOCK = 0x5374_6167_6577_6179  # "Stageway": nodes starting together create the tables once
CONNECT_TIMEOUT_S = 10
APPLICATION_NAME = "stageway"


class PostgresStore(Store):
    def __init__(self, url: str) -> None:
        super().__init__()
        if psycopg is None:
            raise ValueError("the postgresql:// store needs psycopg: pip install 'stageway[postgres]'")
        self.url = url
        self._local = threading.local()
        try:
            db = self._db()
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                db.execute(_SCHEMA)
        except psycopg.Error as error:
            raise ValueError(f"cannot open the store {_without_password(url)}: {error}".strip()) from None

    def _db(self) -> Any:
        db = getattr(self._local, "db", None)
        if db is None or db.closed or db.broken:
            # Autocommit: a read is one statement; writes go inside `transaction`, which opens its own.
            # Named, so that an operator can tell stageway's sessions in `pg_stat_activity` (unless the URL
            # names them itself).
            conninfo = self.url
            if "application_name" not in conninfo:
                conninfo = psycopg.conninfo.make_conninfo(conninfo, application_name=APPLICATION_NAME)
            db = psycopg.connect(conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
            self._local.db = db
            self._local.depth = 0
            self._local.dirty = False
        return db

    def get(self, kind: str, parent: str, id: str) -> Document | None:
        row = (
            self._db()
            .execute(
                "SELECT doc FROM stageway_documents WHERE kind=%s AND parent=%s AND id=%s", (kind, parent, id)
            )
            .fetchone()
        )
        return orjson.loads(row[0]) if row else None

    def list(self, kind: str, parent: str = "") -> list[Document]:
        rows = (
            self._db()
            .execute(
                "SELECT doc FROM stageway_documents WHERE kind=%s AND parent=%s ORDER BY seq", (kind, parent)
            )
            .fetchall()
        )
        return [orjson.loads(row[0]) for row in rows]

    def put(self, kind: str, parent: str, id: str, doc: Document) -> None:
        with self.transaction():
            db = self._db()
            seq = db.execute(
                "UPDATE stageway_meta SET value = value + 1 WHERE key='seq' RETURNING value"
            ).fetchone()[0]
            # Keep the first-written order on update: AWS lists resources in creation order.
            db.execute(
                "INSERT INTO stageway_documents (kind, parent, id, seq, doc) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (kind, parent, id) DO UPDATE SET doc = excluded.doc",
                (kind, parent, id, seq, orjson.dumps(doc)),
            )
            self._local.dirty = True

    def delete(self, kind: str, parent: str, id: str) -> bool:
        with self.transaction():
            cursor = self._db().execute(
                "DELETE FROM stageway_documents WHERE kind=%s AND parent=%s AND id=%s", (kind, parent, id)
            )
            if cursor.rowcount:
                self._local.dirty = True
            return bool(cursor.rowcount)

    def version(self) -> int:
        row = self._db().execute("SELECT value FROM stageway_meta WHERE key='version'").fetchone()
        return int(row[0])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        db = self._db()
        local = self._local
        if local.depth:  # inside another: its writes commit (or roll back) with the outermost one
            local.depth += 1
            try:
                yield
            finally:
                local.depth -= 1
            return
        local.depth = 1
        local.dirty = False
        version = None
        try:
            with db.transaction():  # commits at the end, rolls back on an exception
                # Writers queue here, across nodes, for the whole transaction.
                db.execute("SELECT value FROM stageway_meta WHERE key='version' FOR UPDATE")
                yield
                if local.dirty:
                    version = db.execute(
                        "UPDATE stageway_meta SET value = value + 1 WHERE key='version' RETURNING value"
                    ).fetchone()[0]
        finally:
            local.depth = 0
        if version is not None:
            self._notify(int(version))

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def _without_password(url: str) -> str:
    """The URL as it may appear in an error message."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"
