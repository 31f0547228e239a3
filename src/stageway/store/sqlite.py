"""`sqlite:///path`: the default store, one file in WAL mode, safe for several threads and processes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stageway.store.sql import SqlStatements, SqlStore

_SQL = SqlStatements("?", "BLOB")


class SqliteStore(SqlStore):
    sql = _SQL

    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._lock = threading.RLock()
        with self._connection() as db:
            db.executescript(_SQL.schema)

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
            version = db.execute(_SQL.bump_version).fetchone()[0]
        db.execute("COMMIT")
        if version is not None:
            self._notify(int(version))

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
