"""What the SQL stores share: the documents table, the first-write order and the version, in one place.

SQLite and PostgreSQL differ in their placeholders, their table names (`stageway_*` in a database that may be
shared), how they connect and how a transaction takes its lock; the statements and the reading and writing
of documents are the same, here.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from stageway.store.base import Document, Store


class SqlStatements:
    """The statements of one dialect: `?` or `%s` placeholders, the bytes type, tables named with `prefix`."""

    def __init__(
        self, placeholder: str, blob: str, prefix: str = "", *, lock_version_row: bool = False
    ) -> None:
        p = placeholder
        documents, meta = f"{prefix}documents", f"{prefix}meta"
        self.get = f"SELECT doc FROM {documents} WHERE kind={p} AND parent={p} AND id={p}"
        self.list = f"SELECT doc FROM {documents} WHERE kind={p} AND parent={p} ORDER BY seq"
        self.next_seq = f"UPDATE {meta} SET value = value + 1 WHERE key='seq' RETURNING value"
        # Keep the first-written order on update: AWS lists resources in creation order.
        self.upsert = (
            f"INSERT INTO {documents} (kind, parent, id, seq, doc) VALUES ({p}, {p}, {p}, {p}, {p}) "
            "ON CONFLICT (kind, parent, id) DO UPDATE SET doc = excluded.doc"
        )
        self.delete = f"DELETE FROM {documents} WHERE kind={p} AND parent={p} AND id={p}"
        self.version = f"SELECT value FROM {meta} WHERE key='version'"
        self.bump_version = f"UPDATE {meta} SET value = value + 1 WHERE key='version' RETURNING value"
        # How a transaction begins so that writers queue from the start instead of failing half-way through
        # a read-modify-write: SQLite takes the database's write lock (`BEGIN IMMEDIATE`); PostgreSQL, where
        # other nodes write too, locks the version row every writer updates.
        self.begin = ("BEGIN", f"{self.version} FOR UPDATE") if lock_version_row else ("BEGIN IMMEDIATE",)
        self.schema = f"""
CREATE TABLE IF NOT EXISTS {documents} (
    kind TEXT NOT NULL, parent TEXT NOT NULL, id TEXT NOT NULL,
    seq BIGINT NOT NULL, doc {blob} NOT NULL,
    PRIMARY KEY (kind, parent, id)
);
CREATE TABLE IF NOT EXISTS {meta} (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO {meta} VALUES ('version', 0), ('seq', 0) ON CONFLICT (key) DO NOTHING;
"""


class SqlStore(Store):
    """Documents as JSON bytes in one table, and transactions that bump the version when they wrote. One
    connection a thread, in autocommit mode (`transaction` issues its own BEGIN and COMMIT); a subclass says
    how to open one (`_connect`) and whether one it holds still works (`_still_usable`)."""

    sql: SqlStatements

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()
        """This thread's connection (`db`), and its transaction's `depth` and `dirty`."""

    @abstractmethod
    def _connect(self) -> Any:
        """A new connection (a DB-API connection with `execute`), in autocommit mode."""

    def _still_usable(self, db: Any) -> bool:
        return True

    def _db(self) -> Any:
        """This thread's connection, opened on first use or when the one it had broke."""
        local = self._local
        db = getattr(local, "db", None)
        if db is None or not self._still_usable(db):
            db = local.db = self._connect()
            local.depth = 0
            local.dirty = False
        return db

    def close(self) -> None:
        """Close this thread's connection (other threads' close with their threads)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def get(self, kind: str, parent: str, id: str) -> Document | None:
        row = self._db().execute(self.sql.get, (kind, parent, id)).fetchone()
        return orjson.loads(row[0]) if row else None

    def list(self, kind: str, parent: str = "") -> list[Document]:
        rows = self._db().execute(self.sql.list, (kind, parent)).fetchall()
        return [orjson.loads(row[0]) for row in rows]

    def put(self, kind: str, parent: str, id: str, doc: Document) -> None:
        with self.transaction():
            db = self._db()
            seq = db.execute(self.sql.next_seq).fetchone()[0]
            db.execute(self.sql.upsert, (kind, parent, id, seq, orjson.dumps(doc)))
            self._local.dirty = True

    def delete(self, kind: str, parent: str, id: str) -> bool:
        with self.transaction():
            cursor = self._db().execute(self.sql.delete, (kind, parent, id))
            if cursor.rowcount:
                self._local.dirty = True
            return bool(cursor.rowcount)

    def version(self) -> int:
        row = self._db().execute(self.sql.version).fetchone()
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
        for statement in self.sql.begin:
            db.execute(statement)
        local.depth = 1
        local.dirty = False
        version = None
        try:
            yield
            if local.dirty:
                version = int(db.execute(self.sql.bump_version).fetchone()[0])
                self._committing(db, version)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            local.depth = 0
        if version is not None:
            self._notify(version)

    def _committing(self, db: Any, version: int) -> None:
        """Called inside a transaction that wrote, just before it commits as `version`."""
