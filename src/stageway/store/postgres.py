"""`postgresql://USER@HOST:PORT/DB`: one state shared by stageway nodes on several machines.

The same model as the SQLite store: documents as JSON bytes keyed by (kind, parent, id), listed in the order
they were first written, and a version that grows by one with every committed transaction that wrote
something (each node polls it and recompiles when it moves). Tables are named `stageway_*`, so a database
can be shared with other software; libpq's own URL parameters choose anything else, e.g. a schema with
`?options=-csearch_path%3Dgateway`.

Transactions serialise on the version row (`SELECT ... FOR UPDATE` when the outermost one begins, see
`SqlStatements.begin`), as the SQLite store's `BEGIN IMMEDIATE` does: two nodes' read-modify-writes queue rather than interleave, and every
committed change gets its own version. Each thread has its own connection; a connection that broke (the
server restarted) is replaced at the next call.

Each commit that wrote something also sends its version on the `stageway_changes` channel: a node that
watches others' changes (every `stageway serve` does) LISTENs there and recompiles as soon as another node
commits, rather than at its next poll of the version.
"""

from __future__ import annotations

import threading
from typing import Any

from stageway.store.base import ChangeListener
from stageway.store.sql import SqlStatements, SqlStore

try:
    import psycopg
except ImportError:  # pragma: no cover - psycopg is a dependency; this only words the error
    psycopg = None  # type: ignore[assignment]

_SQL = SqlStatements("%s", "BYTEA", prefix="stageway_", lock_version_row=True)
_SCHEMA_LOCK = 0x5374_6167_6577_6179  # "Stageway": nodes starting together create the tables once
CONNECT_TIMEOUT_S = 10
APPLICATION_NAME = "stageway"
CHANGES_CHANNEL = "stageway_changes"
LISTEN_WAKE_S = 0.5
"""How often the listening thread looks whether the store was closed."""


class PostgresStore(SqlStore):
    sql = _SQL

    def __init__(self, url: str) -> None:
        super().__init__()
        if psycopg is None:
            raise ValueError("the postgresql:// store needs psycopg: pip install 'stageway[postgres]'")
        self.url = url
        self._closed = threading.Event()
        self._watchers: list[ChangeListener] = []
        self._last_local = 0
        """The latest version committed through this process."""
        self._listener: threading.Thread | None = None
        try:
            db = self._db()
            with db.transaction():  # (not `self.transaction()`: the version row may not exist yet)
                db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                db.execute(_SQL.schema)
        except psycopg.Error as error:
            raise ValueError(f"cannot open the store {_without_password(url)}: {error}".strip()) from None

    def _conninfo(self) -> str:
        # Named, so that an operator can tell stageway's sessions in `pg_stat_activity` (unless the URL
        # names them itself).
        if "application_name" in self.url:
            return self.url
        return str(psycopg.conninfo.make_conninfo(self.url, application_name=APPLICATION_NAME))

    def _connect(self) -> Any:
        return psycopg.connect(self._conninfo(), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)

    def _still_usable(self, db: Any) -> bool:
        return not (db.closed or db.broken)  # (a server that restarted broke it: a new one is made)

    def _committing(self, db: Any, version: int) -> None:
        # Delivered to the other nodes' LISTEN at commit, and only if it commits; back here too, perhaps before
        # this thread goes on, so it is marked as this process's first.
        self._last_local = max(self._last_local, version)
        db.execute("SELECT pg_notify(%s, %s)", (CHANGES_CHANNEL, str(version)))

    def watch_others(self, listener: ChangeListener) -> bool:
        """Hear of other nodes' commits by LISTEN/NOTIFY: each commit that wrote something sends its version
        on `stageway_changes`."""
        self._watchers.append(listener)
        if self._listener is None:
            self._listener = threading.Thread(target=self._listen, name="stageway-store-listen", daemon=True)
            self._listener.start()
        return True

    def _heard(self, version: int) -> None:
        # This process's own commits come back through LISTEN too: its subscribers heard of them already.
        if version <= self._last_local:
            return
        for watcher in list(self._watchers):
            watcher(version)

    def _listen(self) -> None:
        """Relay other nodes' notifications to the subscribers until the store closes; a lost connection is
        made again after a second (meanwhile the node's poll of `version` still finds changes)."""
        while not self._closed.is_set():
            try:
                with psycopg.connect(
                    self._conninfo(), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
                ) as db:
                    db.execute(f"LISTEN {CHANGES_CHANNEL}")
                    while not self._closed.is_set():
                        for notification in db.notifies(timeout=LISTEN_WAKE_S):
                            self._heard(int(notification.payload))
            except (psycopg.Error, ValueError):
                self._closed.wait(1.0)

    def close(self) -> None:
        self._closed.set()
        super().close()
        if self._listener is not None:
            self._listener.join(timeout=LISTEN_WAKE_S + 1)
            self._listener = None


def _without_password(url: str) -> str:
    """The URL as it may appear in an error message."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"
