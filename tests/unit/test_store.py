"""The store's contract, for every back end: documents, order, transactions, versions, concurrent writers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stageway.store.base import Store, open_store
from tests.support.postgres import postgres_store_url


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "postgres":
        with postgres_store_url() as url:
            opened = open_store(url)
            yield opened
            opened.close()
        return
    opened = open_store("memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/state.db")
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


def test_only_a_shared_back_end_reports_other_processes_changes(store: Store) -> None:
    assert store.watch_others(lambda version: None) is (type(store).__name__ == "PostgresStore")


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


def test_postgres_state_is_shared_by_two_nodes() -> None:
    """Two stores on one database (two nodes): each sees the other's writes and versions at once."""
    with postgres_store_url() as url:
        first, second = open_store(url), open_store(url)
        try:
            first.put("api", "", "a", {"name": "from the first"})
            assert second.get("api", "", "a") == {"name": "from the first"}
            assert second.version() == first.version() > 0
            with second.transaction():
                second.put("api", "", "b", {"name": "from the second"})
            assert [doc["name"] for doc in first.list("api")] == ["from the first", "from the second"]
            assert first.version() == second.version()
        finally:
            first.close()
            second.close()


def test_postgres_store_hears_other_nodes_changes_at_once() -> None:
    """LISTEN/NOTIFY: a watcher on one node hears the version of a commit made on another, without a poll; a
    transaction that rolls back sends nothing, and a node's own commits reach its watchers only as `subscribe`."""
    with postgres_store_url() as url:
        writer, reader = open_store(url), open_store(url)
        heard: list[int] = []
        arrived = threading.Event()

        def hear(version: int) -> None:
            heard.append(version)
            arrived.set()

        try:
            assert reader.watch_others(hear)
            time.sleep(0.5)  # the listening session is up
            with pytest.raises(RuntimeError), writer.transaction():
                writer.put("api", "", "gone", {"n": 0})
                raise RuntimeError("roll back")
            writer.put("api", "", "a", {"n": 1})
            assert arrived.wait(5), "the reader heard nothing"
            assert heard == [writer.version()]
            reader.put("api", "", "b", {"n": 2})  # its own commit: for `subscribe`, not for its watchers
            writer.put("api", "", "c", {"n": 3})  # sent after the reader's, so heard after it
            deadline = time.monotonic() + 5
            while len(heard) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert heard == [1, 3]  # versions: the writer's a, the reader's b, the writer's c
        finally:
            writer.close()
            reader.close()
        assert not any(thread.name == "stageway-store-listen" for thread in threading.enumerate())


def test_postgres_store_that_cannot_be_reached_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"cannot open the store postgresql://stageway:\*\*\*@127\.0\.0\.1:1/"):
        open_store("postgresql://stageway:secret@127.0.0.1:1/nowhere?connect_timeout=2")


def test_postgres_store_reconnects_after_losing_its_connection() -> None:
    """A server restart (here: the server ending the store's session) costs the call that finds the
    connection gone, not the store: the next call connects again."""
    import psycopg

    from tests.support.postgres import SERVER

    with postgres_store_url() as url:
        store = open_store(url)
        try:
            store.put("api", "", "a", {"n": 1})
            session = store._db().info.backend_pid  # type: ignore[attr-defined]  # this thread's connection
            with psycopg.connect(SERVER, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (session,))
            with pytest.raises(psycopg.OperationalError):
                store.version()
            assert store.get("api", "", "a") == {"n": 1}
            assert store._db().info.backend_pid != session  # type: ignore[attr-defined]
            store.put("api", "", "b", {"n": 2})
            assert [doc["n"] for doc in store.list("api")] == [1, 2]
        finally:
            store.close()


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
