"""A function's configuration, validated where it is made, and the environment its workers get."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from stageway.functions.config import DEFAULT_CONCURRENCY, FunctionConfig
from stageway.functions.environment import log_stream_name, worker_environment


def test_defaults_and_arn(tmp_path: Path) -> None:
    config = FunctionConfig("hello", "app.handler", tmp_path)
    assert config.arn == "arn:aws:lambda:us-east-1:123456789012:function:hello"
    assert config.runtime == "python3.12"
    assert (config.timeout_s, config.memory_mb) == (3.0, 128)
    assert config.concurrency == DEFAULT_CONCURRENCY
    assert FunctionConfig("hello", "app.handler", tmp_path, reserved_concurrency=2).concurrency == 2


def test_code_dir_becomes_an_absolute_path() -> None:
    config = FunctionConfig("hello", "app.handler", "relative/code")  # type: ignore[arg-type]
    assert config.code_dir == Path(os.getcwd(), "relative/code")


def test_environment_is_frozen_and_compared(tmp_path: Path) -> None:
    variables = {"A": "1"}
    config = FunctionConfig("hello", "app.handler", tmp_path, environment=variables)
    variables["A"] = "2"
    assert config.environment["A"] == "1"
    with pytest.raises(TypeError):
        config.environment["B"] = "x"  # type: ignore[index]
    assert config == FunctionConfig("hello", "app.handler", tmp_path, environment={"A": "1"})
    assert config != FunctionConfig("hello", "app.handler", tmp_path, environment={"A": "2"})
    hash(config)


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "has space"},
        {"name": "x" * 65},
        {"handler": ""},
        {"handler": "app. handler"},
        {"runtime": "python2.7"},
        {"runtime": "nodejs20.x"},
        {"timeout_s": 0},
        {"timeout_s": 901},
        {"memory_mb": 64},
        {"reserved_concurrency": -1},
        {"worker_command": ()},
    ],
)
def test_invalid_configurations(tmp_path: Path, changes: dict[str, object]) -> None:
    arguments: dict[str, object] = {"name": "hello", "handler": "app.handler", "code_dir": tmp_path, **changes}
    with pytest.raises(ValueError):
        FunctionConfig(**arguments)  # type: ignore[arg-type]


def test_environment_values_must_be_strings(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        FunctionConfig("hello", "app.handler", tmp_path, environment={"PORT": 8080})  # type: ignore[dict-item]


def test_command_fills_in_the_handler(tmp_path: Path) -> None:
    plain = FunctionConfig("hello", "pkg.app.handler", tmp_path)
    assert plain.command("/usr/bin/python3.12", "/opt/bootstrap.py") == [
        "/usr/bin/python3.12", "/opt/bootstrap.py", "pkg.app.handler"
    ]
    ric = FunctionConfig("hello", "app.handler", tmp_path, worker_command=[sys.executable, "-m", "awslambdaric",
                                                                           "{handler}"])  # type: ignore[arg-type]
    assert ric.worker_command == (sys.executable, "-m", "awslambdaric", "{handler}")
    assert ric.command("ignored", "ignored") == [sys.executable, "-m", "awslambdaric", "app.handler"]


def test_worker_environment(tmp_path: Path) -> None:
    config = FunctionConfig(
        "hello", "app.handler", tmp_path, runtime="python3.11", memory_mb=256, region="eu-west-1",
        environment={"GREETING": "hi", "PYTHONPATH": "/opt/python", "AWS_REGION": "mars-1", "TZ": "Europe/Paris"},
    )
    gateway = {"PATH": "/usr/bin", "HOME": "/home/me", "AWS_SECRET_ACCESS_KEY": "secret", "VIRTUAL_ENV": "/venv"}
    env = worker_environment(
        config, runtime_api="127.0.0.1:9001", log_stream="2024/01/01/[$LATEST]abc", runtime_dir="/rt",
        gateway_environ=gateway, extra_python_path=("/site",),
    )
    assert env["PATH"] == "/usr/bin"
    assert env["HOME"] == "/home/me"
    assert "AWS_SECRET_ACCESS_KEY" not in env  # the gateway's environment is not handed down
    assert "VIRTUAL_ENV" not in env
    assert env["GREETING"] == "hi"
    assert env["TZ"] == "Europe/Paris"  # not reserved: the function may set it
    assert env["AWS_REGION"] == "eu-west-1"  # reserved: the runtime's value wins
    assert env["PYTHONPATH"] == os.pathsep.join([str(tmp_path), "/opt/python", "/site"])
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    assert env["LAMBDA_TASK_ROOT"] == str(tmp_path)
    assert env["LAMBDA_RUNTIME_DIR"] == "/rt"
    assert env["_HANDLER"] == "app.handler"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"


def test_log_stream_name() -> None:
    assert log_stream_name(0).startswith("1970/01/01/[$LATEST]")
    assert len(log_stream_name().rsplit("]", 1)[1]) == 32
