"""bench/run.py's pure parts: the per-row command that repeats a row of the table."""

from __future__ import annotations

import pytest

from bench.run import row_arguments


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ["--only", "proxy"]),
        (["--rounds", "7"], ["--rounds", "7", "--only", "proxy"]),
        (["--only", "proxy,lambda", "--rounds", "7"], ["--rounds", "7", "--only", "proxy"]),
        (["--only=lambda", "--quick"], ["--quick", "--only", "proxy"]),
        (["--skip", "deploy", "--output", "/tmp/x.md", "--duration", "10"], ["--duration", "10", "--only", "proxy"]),
        (["--skip=deploy", "--output=/tmp/x.md"], ["--only", "proxy"]),
    ],
)
def test_a_row_is_repeated_with_the_runs_settings_and_only_its_own_scenario(
    argv: list[str], expected: list[str]
) -> None:
    assert row_arguments(argv, "proxy") == expected
