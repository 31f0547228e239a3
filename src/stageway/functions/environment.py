"""The environment a worker process starts with: Lambda's reserved variables over the user's.

Pure module. The gateway's own environment is not passed on (it may hold credentials and settings of
the gateway); only what a process needs to run sanely (PATH, HOME, TMPDIR, LD_LIBRARY_PATH) is kept.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from stageway.functions.config import FunctionConfig

INHERITED = ("PATH", "HOME", "TMPDIR", "LD_LIBRARY_PATH", "SYSTEMROOT")
"""Taken from the gateway's environment when set; the function's `environment` may override them."""


def log_stream_name(now: float | None = None) -> str:
    """`2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef`: one stream per execution environment."""
    date = time.strftime("%Y/%m/%d", time.gmtime(time.time() if now is None else now))
    return f"{date}/[$LATEST]{os.urandom(16).hex()}"


def worker_environment(
    config: FunctionConfig,
    *,
    runtime_api: str,
    log_stream: str,
    runtime_dir: str,
    gateway_environ: Mapping[str, str],
    extra_python_path: tuple[str, ...] = (),
) -> dict[str, str]:
    """Variables as Lambda sets them; the reserved ones cannot be overridden by the function's config.

    PYTHONPATH puts the code directory first (Lambda's /var/task), then what the function's own
    PYTHONPATH adds, then `extra_python_path` (where a custom worker command's runtime client lives).

    No bytecode is written: Lambda's /var/task is read-only, so its functions compile their code at
    every cold start, and a .pyc left beside the code could outlive an edit on reload (Python checks it
    only against the source's size and mtime in whole seconds).
    """
    environment = {name: gateway_environ[name] for name in INHERITED if name in gateway_environ}
    environment.update(LANG="en_US.UTF-8", TZ=":UTC", PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    environment.update(config.environment)
    python_path = [str(config.code_dir)]
    if config.environment.get("PYTHONPATH"):
        python_path.append(config.environment["PYTHONPATH"])
    python_path.extend(extra_python_path)
    version = config.runtime.removeprefix("python")
    environment.update(
        {
            "PYTHONPATH": os.pathsep.join(python_path),
            "AWS_LAMBDA_FUNCTION_NAME": config.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": config.region,
            "AWS_DEFAULT_REGION": config.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}",
            "_HANDLER": config.handler,
            "LAMBDA_TASK_ROOT": str(config.code_dir),
            "LAMBDA_RUNTIME_DIR": runtime_dir,
        }
    )
    return environment
