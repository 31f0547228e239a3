"""stageway's Lambda runtime for Python: the loop a worker process runs.

    python bootstrap.py module.function

Run by file path with whatever interpreter the function's runtime names, so it imports nothing but the
standard library and keeps to Python 3.9 syntax. It speaks the Lambda Runtime API at
`AWS_LAMBDA_RUNTIME_API` exactly as AWS's `awslambdaric` does, and reports errors in the same shapes:
load the handler once (an import failure is posted to `/init/error`, then the process exits), then
wait for the next invocation, run the handler, post the response or the error, forever.
"""

from __future__ import annotations

import decimal
import importlib
import json
import logging
import os
import re
import select
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
_RUNTIME_PATH = "/2018-06-01/runtime"
_THIS_FILE = os.path.abspath(__file__)

Handler = Callable[[Any, Any], Any]


class FaultError(Exception):
    """A failure Lambda's runtime reports with one of its own `Runtime.*` error types."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []


def make_error(message: str, error_type: str, stack_trace: list[str], request_id: str = "") -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack_trace}


def error_from_exception(exc: BaseException, request_id: str = "") -> dict[str, Any]:
    """`{"errorMessage", "errorType", "requestId", "stackTrace"}` for an exception the user code raised."""
    frames = list(traceback.extract_tb(exc.__traceback__))
    # Like awslambdaric, the trace starts at the first frame that is not the runtime's own.
    while frames and os.path.abspath(frames[0].filename) == _THIS_FILE:
        del frames[0]
    return make_error(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


def load_handler(handler_name: str) -> Handler:
    """Import `module.function` once, with awslambdaric's `Runtime.*` error for each way it can fail."""
    try:
        module_name, function_name = handler_name.rsplit(".", 1)
    except ValueError as exc:
        raise FaultError("Runtime.MalformedHandlerName", f"Bad handler '{handler_name}': {exc}") from None
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise FaultError(
            "Runtime.BuiltInModuleConflict", f"Cannot use built-in module {module_name} as a handler module"
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise FaultError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise FaultError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", trace
        ) from None
    try:
        return getattr(module, function_name)  # type: ignore[no-any-return]
    except AttributeError:
        raise FaultError(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
        ) from None


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, identity: dict[str, Any] | None = None) -> None:
        identity = identity or {}
        self.cognito_identity_id = identity.get("cognitoIdentityId")
        self.cognito_identity_pool_id = identity.get("cognitoIdentityPoolId")


class Client:
    __slots__ = ("app_package_name", "app_title", "app_version_code", "app_version_name", "installation_id")

    def __init__(self, client: dict[str, Any]) -> None:
        for name in self.__slots__:
            setattr(self, name, client.get(name))


class ClientContext:
    __slots__ = ("client", "custom", "env")

    def __init__(self, context: dict[str, Any]) -> None:
        self.custom = context.get("custom")
        self.env = context.get("env")
        client = context.get("client")
        self.client = Client(client) if isinstance(client, dict) else None


class LambdaContext:
    """The `context` argument, with the attributes Lambda's Python runtime gives it."""

    def __init__(
        self,
        request_id: str,
        invoked_function_arn: str,
        deadline_ms: int,
        client_context: dict[str, Any] | None,
        identity: dict[str, Any] | None,
    ) -> None:
        # Read for every invocation, as awslambdaric's LambdaContext does: a handler that changes one of these
        # variables sees the change in its next invocation's context, as on Lambda.
        environ = os.environ
        self.aws_request_id = request_id
        self.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = CognitoIdentity(identity)
        self.client_context = ClientContext(client_context) if client_context is not None else None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, message: str) -> None:
        sys.stdout.write(str(message))


class Invocation:
    """An event and what the Lambda-Runtime-* headers it came with say about it."""

    __slots__ = ("body", "client_context", "deadline_ms", "function_arn", "identity", "request_id", "trace_id")

    def __init__(
        self,
        request_id: str,
        deadline_ms: int,
        function_arn: str,
        trace_id: str | None,
        client_context: str | None,
        identity: str | None,
        body: bytes,
    ) -> None:
        self.request_id = request_id
        self.deadline_ms = deadline_ms
        self.function_arn = function_arn
        self.trace_id = trace_id
        self.client_context = client_context
        self.identity = identity
        self.body = body

    @classmethod
    def from_headers(cls, headers: dict[str, str], body: bytes) -> Invocation:
        """From the answer's headers, names in lower case."""
        return cls(
            headers.get("lambda-runtime-aws-request-id", ""),
            int(headers.get("lambda-runtime-deadline-ms") or 0),
            headers.get("lambda-runtime-invoked-function-arn", ""),
            headers.get("lambda-runtime-trace-id"),
            headers.get("lambda-runtime-client-context"),
            headers.get("lambda-runtime-cognito-identity"),
            body,
        )


# Exactly the head of stageway's answer to `GET .../next` (`runtime_api.next_invocation_head`), read with one
# match instead of line by line; any other answer is read line by line.
_EVENT_HEAD = re.compile(
    r"HTTP/1\.1 200 OK\r\nContent-Type: application/json\r\n"
    r"Lambda-Runtime-Aws-Request-Id: (\S(?:[^\r\n]*\S)?)\r\n"
    r"Lambda-Runtime-Deadline-Ms: ([0-9]{1,18})\r\n"
    r"Lambda-Runtime-Invoked-Function-Arn: (\S(?:[^\r\n]*\S)?)\r\n"
    r"Lambda-Runtime-Trace-Id: (\S(?:[^\r\n]*\S)?)\r\n"
    r"(?:Lambda-Runtime-Client-Context: (\S(?:[^\r\n]*\S)?)\r\n)?"
    r"Content-Length: ([0-9]{1,9})\r\n\r\n"
)


class RuntimeApiClient:
    """The Runtime API over one keep-alive HTTP/1.1 connection: requests answered in order.

    Deliberately not http.client: its response parsing (the email package) cost more than the rest of
    an invocation of a trivial handler. The Runtime API always answers with a Content-Length body.

    `pipelined`: an invocation's result is sent together with the next `GET .../next` (one send, one
    wake-up of the gateway) and its `202` read just before the next event, instead of a round trip each.
    """

    def __init__(self, address: str, *, pipelined: bool = False, inherited_fd: int | None = None) -> None:
        self._address = address
        if inherited_fd is not None:
            # A Unix socket stageway connected before starting this process: the same requests and answers,
            # at about half the kernel's cost per message of a loopback TCP connection.
            self._socket = socket.socket(fileno=inherited_fd)
            # Passed down to this process only: programs the function starts do not get it.
            self._socket.set_inheritable(False)
        else:
            host, _, port = address.rpartition(":")
            self._socket = socket.create_connection((host, int(port)))
            # Requests are small and strictly request/answer: never wait for Nagle.
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = b""
        # Waiting for an answer with poll(POLLIN) rather than in recv: a process blocked in recv on a socket is
        # also woken each time the peer reads what it sent (the kernel wakes the socket's sleepers when its
        # send buffer drains), which here is once an invocation, for nothing; poll wakes for incoming data only.
        self._readable = select.poll()
        self._readable.register(self._socket, select.POLLIN)
        self._next_request = self._request("GET", "/invocation/next")
        # What `_request` makes of a posted response, as a template (the request id, the content type and
        # the body's length go in).
        self._response_head = (
            f"POST {_RUNTIME_PATH}/invocation/%s/response HTTP/1.1\r\nHost: {address.replace('%', '%%')}\r\n"
            "Content-Type: %s\r\nContent-Length: %d\r\n\r\n"
        )
        self._pipelined = pipelined
        self._unsent = b""
        self._unanswered: list[bool] = []
        """One entry per result sent whose answer is still to read: True for a response, False for an error."""

    def _request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> bytes:
        lines = [f"{method} {_RUNTIME_PATH}{path} HTTP/1.1", f"Host: {self._address}"]
        if headers:
            lines.extend(f"{name}: {value}" for name, value in headers.items())
        if method != "GET":
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def _call(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        self._socket.sendall(self._request(method, path, body, headers))
        return self._read_answer()

    def _read_answer(self) -> tuple[int, dict[str, str], bytes]:
        buffer = self._buffer
        while True:
            if buffer.startswith(_ACCEPTED):  # stageway's answer to every result: nothing to parse
                self._buffer = buffer[len(_ACCEPTED) :]
                return _ACCEPTED_ANSWER
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            buffer += self._receive()
        status_line, *header_lines = buffer[:end].decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if status == 100:  # "100 Continue" is followed by the real answer
            self._buffer = buffer[end + 4 :]
            return self._read_answer()
        length = int(headers.get("content-length", "0"))
        start = end + 4
        if len(buffer) - start < length:
            chunks = [buffer[start:]]
            missing = length - len(chunks[0])
            while missing > 0:
                chunk = self._receive(max(missing, 65536))
                chunks.append(chunk)
                missing -= len(chunk)
            buffer, start = b"".join(chunks), 0
        self._buffer = buffer[start + length :]
        return status, headers, buffer[start : start + length]

    def _receive(self, size: int = 65536) -> bytes:
        self._readable.poll()
        data = self._socket.recv(size)
        if not data:
            raise ConnectionError("the Runtime API closed the connection")
        return data

    def wait_next_invocation(self) -> Invocation:
        """Post what is unsent with `GET .../next`, and return the next event. stageway may have sent that
        event ahead, before the answers to the results posted before it: then it is started at once, the
        answers are read when they come, and the log is marked with its request id (`_INVOCATION_MARK`) so
        that what is printed from now on is not taken for the previous invocation's."""
        self._socket.sendall(self._unsent + self._next_request)
        self._unsent = b""
        unanswered = self._unanswered
        while unanswered:
            buffer = self._buffer
            if buffer.startswith(_ACCEPTED):  # the usual answer, consumed here without parsing
                self._buffer = buffer[len(_ACCEPTED) :]
                unanswered.pop(0)
            elif buffer.startswith(_EVENT_STATUS):
                invocation = self._read_invocation()
                try:
                    os.write(1, _INVOCATION_MARK % invocation.request_id.encode())
                except OSError:  # the function closed its stdout: nothing to keep apart
                    pass
                return invocation
            elif len(buffer) < len(_EVENT_STATUS):
                self._buffer = buffer + self._receive()
            else:
                answer = self._read_answer()
                if unanswered.pop(0):
                    _check_response_accepted(answer)
        return self._read_invocation()

    def _read_invocation(self) -> Invocation:
        """The answer to `GET .../next`: the next event."""
        buffer = self._buffer
        end = buffer.find(b"\r\n\r\n")
        while end < 0:
            buffer += self._receive()
            end = buffer.find(b"\r\n\r\n")
        self._buffer = buffer
        head = _EVENT_HEAD.fullmatch(buffer[: end + 4].decode("latin-1"))
        if head is not None:
            request_id, deadline_ms, function_arn, trace_id, client_context, length = head.groups()
            body_end = end + 4 + int(length)
            if len(buffer) >= body_end:  # else a large event, still arriving: read as any other answer
                self._buffer = buffer[body_end:]
                body = buffer[end + 4 : body_end]
                return Invocation(request_id, int(deadline_ms), function_arn, trace_id, client_context, None, body)
        status, headers, body = self._read_answer()
        if status != 200:
            raise RuntimeError(f"GET /invocation/next answered {status}: {body!r}")
        return Invocation.from_headers(headers, body)

    def post_response(self, request_id: str, body: bytes, content_type: str) -> None:
        request = (self._response_head % (request_id, content_type, len(body))).encode("latin-1") + body
        if self._pipelined:
            self._unsent += request
            self._unanswered.append(True)
            return
        self._socket.sendall(request)
        _check_response_accepted(self._read_answer())

    def post_error(self, request_id: str, error: dict[str, Any]) -> None:
        request = self._error_request(f"/invocation/{request_id}/error", error)
        if self._pipelined:
            self._unsent += request
            self._unanswered.append(False)
            return
        self._socket.sendall(request)
        self._read_answer()

    def post_init_error(self, error: dict[str, Any]) -> None:
        self._socket.sendall(self._error_request("/init/error", error))
        self._read_answer()

    def _error_request(self, path: str, error: dict[str, Any]) -> bytes:
        headers = {ERROR_TYPE_HEADER: error["errorType"], "Content-Type": "application/json"}
        return self._request("POST", path, to_json(error).encode(), headers)


_ACCEPTED_BODY = b'{"status":"OK"}\n'
_EVENT_STATUS = b"HTTP/1.1 200 "
_INVOCATION_MARK = b"\x1estageway:invocation %s\x1e\n"
"""stageway's `functions.logs.INVOCATION_MARK`, as a line (the request id goes in)."""
_ACCEPTED = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(_ACCEPTED_BODY)
    + _ACCEPTED_BODY
)
_ACCEPTED_ANSWER = (202, {"content-type": "application/json", "content-length": str(len(_ACCEPTED_BODY))}, _ACCEPTED_BODY)
"""`_ACCEPTED` as `_read_answer` parses it (stageway's Runtime API sends exactly these bytes)."""


def _check_response_accepted(answer: tuple[int, dict[str, str], bytes]) -> None:
    status, _, body = answer
    if status != 202:
        # Lambda refuses, for example, a response over 6 MB; the invocation has failed on its side.
        sys.stderr.write(f"Runtime API refused the response ({status}): {body.decode()}\n")


def _encode_decimal(value: Any) -> Any:
    # awslambdaric writes Decimal as its exact digits; the standard json module can only write numbers.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# Lambda's python3.12+ runtimes write non-ASCII characters as they are, older ones escape them.
_ENSURE_ASCII = os.environ.get("AWS_EXECUTION_ENV", "") in {
    "AWS_Lambda_python3.9",
    "AWS_Lambda_python3.10",
    "AWS_Lambda_python3.11",
}


# What `json.dumps(value, default=_encode_decimal, ensure_ascii=_ENSURE_ASCII)` builds on every call, built once.
_ENCODER = json.JSONEncoder(default=_encode_decimal, ensure_ascii=_ENSURE_ASCII)


# `_ENCODER.encode(value)` for anything but a str is `"".join` of what the C encoder makes with these
# settings (its circular-reference markers must start empty: a new one each time); made here directly, without
# the Python code `encode` and `iterencode` run around it. Without the C accelerator, `_ENCODER.encode` it is.
_make_c_encoder = getattr(json.encoder, "c_make_encoder", None)
_encode_string = json.encoder.encode_basestring_ascii if _ENSURE_ASCII else json.encoder.encode_basestring


def to_json(value: Any) -> str:
    if _make_c_encoder is None or isinstance(value, str):
        return _ENCODER.encode(value)
    encoder = _make_c_encoder({}, _encode_decimal, _encode_string, None, ": ", ", ", False, False, True)
    return "".join(encoder(value, 0))


_DECODER = json.JSONDecoder()


def load_event(body: bytes) -> Any:
    """`json.loads(body)`, without its Python-coded guess at the encoding when the body can only be UTF-8:
    JSON text whose first character is "{" (every API Gateway event) and whose second byte is not NUL."""
    if body[:1] == b"{" and body[1:2] != b"\x00":
        return _DECODER.decode(body.decode("utf-8", "surrogatepass"))
    return json.loads(body)


def marshal_response(result: Any) -> tuple[bytes, str]:
    if isinstance(result, bytes):
        return result, "application/unknown"
    try:
        return to_json(result).encode(), "application/json"
    except Exception as exc:  # noqa: BLE001 - whatever the encoder raises is a MarshalError
        raise FaultError("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None


def log_error(error: dict[str, Any]) -> None:
    """The error as Lambda logs it: one record, its lines joined by "\\r" so it stays one log event."""
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}" if error["errorMessage"] else
             f"[ERROR] {error['errorType']}"]
    if error["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        for entry in error["stackTrace"]:
            lines.extend(entry.splitlines())
    sys.stdout.write("\r".join(lines) + "\n")
    sys.stdout.flush()


_current_request_id = ""


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _current_request_id
        return True


def setup_logging() -> None:
    """Lambda's Python runtime gives the root logger a handler in its own format (level WARNING unless
    AWS_LAMBDA_LOG_LEVEL says otherwise)."""
    logging.Formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
        )
    )
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        root.setLevel(level)


def run_invocation(client: RuntimeApiClient, handler: Handler, invocation: Invocation) -> None:
    global _current_request_id
    request_id = _current_request_id = invocation.request_id
    if invocation.trace_id is not None:
        os.environ["_X_AMZN_TRACE_ID"] = invocation.trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    try:
        try:
            event = load_event(invocation.body) if invocation.body else None
        except ValueError as exc:
            raise FaultError("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from None
        try:
            client_context = json.loads(invocation.client_context) if invocation.client_context else None
            identity = json.loads(invocation.identity) if invocation.identity else None
        except ValueError as exc:
            raise FaultError(
                "Runtime.LambdaContextUnmarshalError", f"Unable to parse Client Context JSON: {exc}"
            ) from None
        context = LambdaContext(
            request_id, invocation.function_arn, invocation.deadline_ms, client_context, identity
        )
        body, content_type = marshal_response(handler(event, context))
    except FaultError as fault:
        error = make_error(fault.message, fault.error_type, fault.stack_trace, request_id)
    except Exception as exc:  # noqa: BLE001 - user code; SystemExit and KeyboardInterrupt end the process
        error = error_from_exception(exc, request_id)
    else:
        client.post_response(request_id, body, content_type)
        return
    log_error(error)
    client.post_error(request_id, error)


def main(argv: list[str]) -> int:
    # Run by path, this file's directory is sys.path[0]; the function's code must not see its neighbours.
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(_THIS_FILE):
        del sys.path[0]
    handler_name = argv[1] if len(argv) > 1 else os.environ.get("_HANDLER", "")
    try:
        inherited_fd = int(argv[2]) if len(argv) > 2 else None
        client = RuntimeApiClient(os.environ["AWS_LAMBDA_RUNTIME_API"], pipelined=True, inherited_fd=inherited_fd)
    except (KeyError, OSError, ValueError) as exc:
        sys.stderr.write(f"cannot reach the Lambda Runtime API: {exc!r}\n")
        return 1
    setup_logging()
    try:
        try:
            handler = load_handler(handler_name)
        except FaultError as fault:
            error = make_error(fault.message, fault.error_type, fault.stack_trace)
        except Exception as exc:  # noqa: BLE001 - the module raised while being imported
            error = error_from_exception(exc)
        else:
            while True:
                run_invocation(client, handler, client.wait_next_invocation())
        log_error(error)
        client.post_init_error(error)
        return 1
    except (OSError, ValueError, IndexError) as exc:
        # The gateway went away (or retired this worker): nothing left to serve.
        sys.stderr.write(f"Lambda Runtime API connection lost: {exc!r}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
