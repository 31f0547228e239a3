"""Code change detection: what changes a code directory's fingerprint, and what does not."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from stageway.functions.watch import CodeWatcher, fingerprint


def _touch(path: Path, content: str, mtime_ns: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_fingerprint_follows_files(tmp_path: Path) -> None:
    _touch(tmp_path / "app.py", "v1", 1_000_000_000)
    _touch(tmp_path / "lib" / "util.py", "u", 1_000_000_000)
    first = fingerprint(tmp_path)
    assert fingerprint(tmp_path) == first
    _touch(tmp_path / "app.py", "v2", 1_000_000_001)  # same size, 1 ns later
    edited = fingerprint(tmp_path)
    assert edited != first
    _touch(tmp_path / "lib" / "new.py", "", 1_000_000_000)
    added = fingerprint(tmp_path)
    assert added != edited
    (tmp_path / "lib" / "new.py").unlink()
    assert fingerprint(tmp_path) == edited


def test_fingerprint_ignores_bytecode_and_hidden_directories(tmp_path: Path) -> None:
    _touch(tmp_path / "app.py", "v1", 1_000_000_000)
    before = fingerprint(tmp_path)
    _touch(tmp_path / "__pycache__" / "app.cpython-311.pyc", "bytecode", 2_000_000_000)
    _touch(tmp_path / ".git" / "index", "git", 2_000_000_000)
    assert fingerprint(tmp_path) == before


def test_missing_directory_has_a_fingerprint(tmp_path: Path) -> None:
    assert fingerprint(tmp_path / "absent") == fingerprint(tmp_path / "also-absent")


def test_watcher_reports_changed_directories(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    _touch(one / "a.py", "a", 1_000_000_000)
    _touch(two / "b.py", "b", 1_000_000_000)
    watcher = CodeWatcher()
    watcher.watch([one, two])

    async def scenario() -> list[list[Path]]:
        seen = [await watcher.changes()]
        _touch(two / "b.py", "bb", 1_000_000_000)
        seen.append(await watcher.changes())
        seen.append(await watcher.changes())  # reported once
        watcher.watch([one])
        _touch(two / "b.py", "bbb", 1_000_000_000)
        seen.append(await watcher.changes())
        return seen

    assert asyncio.run(scenario()) == [[], [two], [], []]
