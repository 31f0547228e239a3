"""Which interpreter runs a function's runtime: found once, checked once, with the gateway's as fallback."""

from __future__ import annotations

import asyncio
import logging
import stat
import sys
from pathlib import Path

import pytest

from stageway.functions.interpreter import InterpreterResolver


def _script(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def _resolve(directory: Path, *runtimes: str) -> list[str]:
    resolver = InterpreterResolver(logging.getLogger("stageway.functions"), search_path=str(directory))

    async def scenario() -> list[str]:
        try:
            return [await resolver.resolve(runtime) for runtime in runtimes]
        finally:
            await resolver.close()

    return asyncio.run(scenario())


def test_the_gateways_own_version_needs_no_search(tmp_path: Path) -> None:
    own = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    assert _resolve(tmp_path, own) == [sys.executable]


def test_a_working_interpreter_is_used_by_its_real_path(tmp_path: Path) -> None:
    _script(tmp_path, "python3.9", "echo 3.9; echo /opt/python3.9/bin/python3.9")
    assert _resolve(tmp_path, "python3.9") == ["/opt/python3.9/bin/python3.9"]


def test_broken_or_wrong_interpreters_fall_back_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _script(tmp_path, "python3.10", "echo 'pyenv: python3.10: command not found' >&2; exit 127")
    _script(tmp_path, "python3.13", "echo 3.12; echo /usr/bin/python3.12")
    with caplog.at_level(logging.WARNING, logger="stageway.functions"):
        resolved = _resolve(tmp_path, "python3.10", "python3.10", "python3.13", "python3.9")
    assert resolved == [sys.executable] * 4
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 3  # once per runtime, not once per worker
    assert warnings[0].startswith(f"python3.10 is not available on PATH ({tmp_path / 'python3.10'} does not work)")
    assert warnings[2].startswith("python3.9 is not available on PATH;")
