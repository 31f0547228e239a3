"""The local Lambda service: functions run in worker processes that speak AWS's Lambda Runtime API.

    runtime = LocalRuntime()
    await runtime.start()                      # hot reload and idle reaping
    runtime.set_functions([FunctionConfig("hello", "app.handler", Path("functions/hello"))])
    result = await runtime.invoke("hello", b'{"name": "world"}')
    await runtime.close()                      # every worker stopped, nothing left running

What it copies from Lambda:

- Workers start on demand, stay warm and run one invocation at a time; more start under load up to the
  function's concurrency (`reserved_concurrency`, else `DEFAULT_CONCURRENCY` = 10), past which
  invocations wait, first come first served. Idle workers stop after `idle_timeout_s` (5 minutes).
- A worker is stageway's `bootstrap.py` (stdlib only, Python 3.9+) under the runtime's interpreter, or
  any Runtime API client given as `worker_command`, such as AWS's own `awslambdaric`. Each gets its own
  endpoint, `AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT`, in the gateway process.
- Failures are results with Lambda's payloads and `function_error="Unhandled"`: handler exceptions,
  `Runtime.MarshalError`, init errors (`Runtime.ImportModuleError`, ...), timeouts (the worker is
  killed), `Runtime.ExitError` when the process exits mid-invocation, `Function.ResponseSizeTooLarge`.
  The next invocation gets a fresh worker; the gateway is never affected.
- A caller that stops waiting does not stop the function: it runs to its end, its result is dropped.
- Every line a worker prints goes to the `stageway.functions` logger (INFO) with `function_name` and
  `request_id` attributes, with Lambda's START/END/REPORT lines; the last 4 KB of an invocation's log
  is `InvocationResult.log_tail`.
- Editing a file under a function's `code_dir` replaces its workers: invocations that start more than
  `watch_interval_s` (0.3 s) after the file is saved run the new code (see `watch.py`).

Exceptions (problems with the call itself, as Lambda's Invoke API raises them): `FunctionNotFound`,
`FunctionThrottled` (reserved concurrency 0), `RequestTooLarge` (payload over 6 MB).
"""

from stageway.functions.config import (
    DEFAULT_CONCURRENCY,
    MAX_PAYLOAD_BYTES,
    MAX_RESPONSE_BYTES,
    FunctionConfig,
)
from stageway.functions.errors import FunctionNotFound, FunctionThrottled, RequestTooLarge
from stageway.functions.invocation import InvocationResult
from stageway.functions.service import LocalRuntime

__all__ = [
    "DEFAULT_CONCURRENCY",
    "MAX_PAYLOAD_BYTES",
    "MAX_RESPONSE_BYTES",
    "FunctionConfig",
    "FunctionNotFound",
    "FunctionThrottled",
    "InvocationResult",
    "LocalRuntime",
    "RequestTooLarge",
]
