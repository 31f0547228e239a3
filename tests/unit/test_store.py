"""The store's contract, for every back end: documents, order, transactions, versions, concurrent writers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stageway.store.base import Store, open_store


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/state.db"
    opened = open_store(url)
    yield opened
    opened.close()


def test_documents_round_trip_in_first_written_order(store: Store) -> None:
    store.put("route", "api1", "r2", {"routeKey": "GET /b"})
    store.put("route", "api1", "r1", {"routeKey": "GET /a"})
    store.put("route", "api1", "r2", {"routeKey": "GET /b2"})
    store.put("route", "api2", "r9", {"routeKey": "GET /z"})
    assert store.list("route", "api1") == [{"routeKey": "GET /b2"}, {"routeKey": "GET /a"}]
    assert store.get("route", "api2", "r9") == {"routeKey": "GET /z"}
    assert store.get("route", "api2", "nope") is None
    assert store.delete("route", "api1", "r1") is True
    assert store.delete("route", "api1", "r1") is False
    assert store.list("route", "api1") == [{"routeKey": "GET /b2"}]


def test_returned_documents_are_copies(store: Store) -> None:
    store.put("api", "", "a", {"tags": {"k": "v"}})
    doc = store.get("api", "", "a")
    assert doc is not None
    doc["tags"]["k"] = "changed"
    assert store.get("api", "", "a") == {"tags": {"k": "v"}}


def test_a_transaction_commits_once_or_not_at_all(store: Store) -> None:
    heard: list[int] = []
    store.subscribe(heard.append)
    before = store.version()
    with store.transaction():
        store.put("api", "", "a", {"n": 1})
        store.put("api", "", "b", {"n": 2})
    assert store.version() == before + 1
    assert heard == [before + 1]
    with pytest.raises(RuntimeError), store.transaction():
        store.put("api", "", "c", {"n": 3})
        store.delete("api", "", "a")
        raise RuntimeError("abort")
    assert store.get("api", "", "c") is None
    assert store.get("api", "", "a") == {"n": 1}
    assert store.version() == before + 1


def test_a_transaction_without_writes_changes_no_version(store: Store) -> None:
    before = store.version()
    with store.transaction():
        store.get("api", "", "x")
    assert store.version() == before


def test_sqlite_state_survives_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    first = open_store(url)
    first.put("api", "", "a", {"name": "kept"})
    version = first.version()
    first.close()
    second = open_store(url)
    assert second.get("api", "", "a") == {"name": "kept"}
    assert second.version() == version


def test_concurrent_writers_lose_nothing(store: Store) -> None:
    """Read-modify-write from many threads at once: every increment must land."""
    store.put("counter", "", "c", {"value": 0})
    threads_count, per_thread = 8, 25

    def bump() -> None:
        for _ in range(per_thread):
            with store.transaction():
                doc = store.get("counter", "", "c")
                assert doc is not None
                doc["value"] += 1
                store.put("counter", "", "c", doc)

    threads = [threading.Thread(target=bump) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get("counter", "", "c") == {"value": threads_count * per_thread}


def test_unknown_store_url_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported store URL"):
        open_store("mongodb://x")
