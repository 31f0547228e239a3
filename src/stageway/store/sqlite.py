"""`sqlite:///path`: the default store, one file in WAL mode, safe for several threads and processes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from stageway.store.sql import SqlStatements, SqlStore

_SQL = SqlStatements("?", "BLOB")


class SqliteStore(SqlStore):
    sql = _SQL

    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db().executescript(_SQL.schema)

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

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=30000")
        return db
