"""`sqlite:///path`: the default store, one file in WAL mode, safe for several threads and processes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from stageway.store.base import Document, Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL, parent TEXT NOT NULL, id TEXT NOT NULL,
    seq INTEGER NOT NULL, doc BLOB NOT NULL,
    PRIMARY KEY (kind, parent, id)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('version', 0), ('seq', 0);
"""


class SqliteStore(Store):
    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._lock = threading.RLock()
        with self._connection() as db:
            db.executescript(_SCHEMA)

    @classmethod
    def from_url(cls, url: str) -> SqliteStore:
        return cls(cls.path_from_url(url))

    @staticmethod
    def path_from_url(url: str) -> Path:
        """sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy spells them."""
        path = url.removeprefix("sqlite:").removeprefix("//")
        path = path.removeprefix("/")
        if not path:
            raise ValueError("sqlite store URL needs a path: sqlite:///.stageway/state.db")
        return Path(path)

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
            self._local.depth = 0
            self._local.dirty = False
        return db

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        yield self._db()

    def get(self, kind: str, parent: str, id: str) -> Document | None:
        row = self._db().execute(
            "SELECT doc FROM documents WHERE kind=? AND parent=? AND id=?", (kind, parent, id)
        ).fetchone()
        return orjson.loads(row[0]) if row else None

    def list(self, kind: str, parent: str = "") -> list[Document]:
        rows = self._db().execute(
            "SELECT doc FROM documents WHERE kind=? AND parent=? ORDER BY seq", (kind, parent)
        ).fetchall()
        return [orjson.loads(row[0]) for row in rows]

    def put(self, kind: str, parent: str, id: str, doc: Document) -> None:
        with self.transaction():
            db = self._db()
            seq = db.execute("UPDATE meta SET value = value + 1 WHERE key='seq' RETURNING value").fetchone()[0]
            # Keep the first-written order on update: AWS lists resources in creation order.
            db.execute(
                "INSERT INTO documents (kind, parent, id, seq, doc) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (kind, parent, id) DO UPDATE SET doc = excluded.doc",
                (kind, parent, id, seq, orjson.dumps(doc)),
            )
            self._local.dirty = True

    def delete(self, kind: str, parent: str, id: str) -> bool:
        with self.transaction():
            cursor = self._db().execute(
                "DELETE FROM documents WHERE kind=? AND parent=? AND id=?", (kind, parent, id)
            )
            if cursor.rowcount:
                self._local.dirty = True
            return bool(cursor.rowcount)

    def version(self) -> int:
        row = self._db().execute("SELECT value FROM meta WHERE key='version'").fetchone()
        return int(row[0])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        db = self._db()
        if self._local.depth == 0:
            # BEGIN IMMEDIATE takes the write lock up front, so concurrent writers queue instead of failing
            # with "database is locked" half-way through a read-modify-write.
            db.execute("BEGIN IMMEDIATE")
            self._local.dirty = False
        self._local.depth += 1
        try:
            yield
        except BaseException:
            self._local.depth -= 1
            if self._local.depth == 0:
                db.execute("ROLLBACK")
            raise
        self._local.depth -= 1
        if self._local.depth:
            return
        version = None
        if self._local.dirty:
            version = db.execute(
                "UPDATE meta SET value = value + 1 WHERE key='version' RETURNING value"
            ).fetchone()[0]
        db.execute("COMMIT")
        if version is not None:
            self._notify(int(version))

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
