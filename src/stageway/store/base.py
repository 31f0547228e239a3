"""The store: every resource of every API, behind one small interface, with a change counter.

Resources are JSON documents in AWS's own wire shape (apigatewayv2's camelCase, Lambda's PascalCase), keyed by
(kind, parent, id): a route is ("route", api_id, route_id), an API is ("api", "", api_id). Keeping the wire shape
means the control plane stores what it receives and returns what it stored, and the compiler reads the same
documents the file loader wrote. Back ends only move documents; they know nothing of HTTP or of AWS rules.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Document = dict[str, Any]
ChangeListener = Callable[[int], None]


class Store(ABC):
    """Documents by (kind, parent, id), transactions, and a version bumped by every committed change."""

    def __init__(self) -> None:
        self._listeners: list[ChangeListener] = []

    @abstractmethod
    def get(self, kind: str, parent: str, id: str) -> Document | None: ...

    @abstractmethod
    def list(self, kind: str, parent: str = "") -> list[Document]:
        """Documents of one kind under one parent, in the order they were first written."""

    @abstractmethod
    def put(self, kind: str, parent: str, id: str, doc: Document) -> None: ...

    @abstractmethod
    def delete(self, kind: str, parent: str, id: str) -> bool: ...

    @abstractmethod
    def version(self) -> int:
        """A number that grows with every committed change (for change polling by other processes)."""

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes inside happen together or not at all; listeners hear of them once, at commit."""

    def close(self) -> None:
        """Release the back end's resources."""

    def subscribe(self, listener: ChangeListener) -> None:
        """Call `listener(version)` after each committed change made through this process, in the thread that
        committed it, before the write returns."""
        self._listeners.append(listener)

    def watch_others(self, listener: ChangeListener) -> bool:
        """Call `listener(version)`, from a thread of the store's, when another process commits a change;
        False when this back end cannot tell (then `version` must be polled)."""
        return False

    def _notify(self, version: int) -> None:
        for listener in list(self._listeners):
            listener(version)


class MemoryStore(Store):
    """`memory://`: everything in dicts; for tests and throw-away runs."""

    def __init__(self) -> None:
        super().__init__()
        self._docs: dict[tuple[str, str], dict[str, Document]] = {}
        self._version = 0
        self._lock = threading.RLock()
        self._depth = 0
        self._dirty = False
        self._undo: list[tuple[str, str, str, Document | None]] = []

    def get(self, kind: str, parent: str, id: str) -> Document | None:
        with self._lock:
            doc = self._docs.get((kind, parent), {}).get(id)
            return _copy(doc) if doc is not None else None

    def list(self, kind: str, parent: str = "") -> list[Document]:
        with self._lock:
            return [_copy(doc) for doc in self._docs.get((kind, parent), {}).values()]

    def put(self, kind: str, parent: str, id: str, doc: Document) -> None:
        with self.transaction():
            bucket = self._docs.setdefault((kind, parent), {})
            self._undo.append((kind, parent, id, bucket.get(id)))
            bucket[id] = _copy(doc)
            self._dirty = True

    def delete(self, kind: str, parent: str, id: str) -> bool:
        with self.transaction():
            bucket = self._docs.get((kind, parent), {})
            if id not in bucket:
                return False
            self._undo.append((kind, parent, id, bucket.pop(id)))
            self._dirty = True
            return True

    def version(self) -> int:
        return self._version

    @contextmanager
    def transaction(self) -> Iterator[None]:
        committed_version: int | None = None
        with self._lock:
            self._depth += 1
            try:
                yield
            except BaseException:
                if self._depth == 1:
                    self._rollback()
                raise
            finally:
                self._depth -= 1
            if self._depth == 0:
                if self._dirty:
                    self._version += 1
                    committed_version = self._version
                self._dirty = False
                self._undo.clear()
        if committed_version is not None:
            self._notify(committed_version)

    def _rollback(self) -> None:
        for kind, parent, id, previous in reversed(self._undo):
            bucket = self._docs.setdefault((kind, parent), {})
            if previous is None:
                bucket.pop(id, None)
            else:
                bucket[id] = previous
        self._undo.clear()
        self._dirty = False


def _copy(doc: Document) -> Document:
    # Documents are JSON: a JSON round trip is a correct deep copy, and callers may mutate what they get.
    import orjson

    copied: Document = orjson.loads(orjson.dumps(doc))
    return copied


POSTGRES_URL_PREFIXES = ("postgresql://", "postgres://")


def open_store(url: str) -> Store:
    """The store named by `--store`: `memory://`, `sqlite:///path` or `postgresql://...` (see the README)."""
    if url.startswith("memory:"):
        return MemoryStore()
    if url.startswith("sqlite:"):
        from stageway.store.sqlite import SqliteStore

        return SqliteStore.from_url(url)
    if url.startswith(POSTGRES_URL_PREFIXES):
        from stageway.store.postgres import PostgresStore

        return PostgresStore(url)
    raise ValueError(f"unsupported store URL {url!r}: use memory://, sqlite:///PATH or postgresql://USER@HOST/DB")
