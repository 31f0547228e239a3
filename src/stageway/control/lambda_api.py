"""Lambda's API (botocore model `lambda/2015-03-31`) on the admin listener: functions from zips, and Invoke.

Functions created here are the same documents the YAML loader writes (kind "function", Lambda's own
PascalCase shape, code directory under the private `"stageway"` key), so the data plane runs them the same
way. Wire rules, from the model: REST-JSON, paths under `/2015-03-31/functions` (concurrency under
`/2017-10-31` and `/2019-09-30`, tags under `/2017-03-31/tags`), `x-amzn-ErrorType` + JSON body on errors.

Synchronous operations run in a worker thread (zip extraction and store transactions never block the
event loop, and a transaction never spans an `await`); Invoke runs on the loop, since the runtime is async.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from stageway.control.lambda_code import UNZIP_FAILED, CodeStore, PackageError, StoredCode, zip_directory
from stageway.control.wire import (
    AdminRequest,
    AdminResponse,
    AwsError,
    InvalidParameterValueException,
    InvalidRequestContentException,
    LambdaError,
    RequestTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from stageway.core import validation
from stageway.core.validation import ValidationError
from stageway.functions.documents import function_config
from stageway.functions.errors import FunctionNotFound, RequestTooLarge
from stageway.functions.invocation import InvocationResult
from stageway.store.base import Document, Store

log = logging.getLogger("stageway.lambda")

API_VERSION = "2015-03-31"
LATEST = "$LATEST"
DEFAULT_TIMEOUT_S, DEFAULT_MEMORY_MB = 3, 128
LIST_PAGE_SIZE = 50
"""Lambda returns at most 50 functions a page, whatever `MaxItems` asks for."""
MAX_LIST_ITEMS = 10000
LOG_TAIL_BYTES = 4096
RUNTIME_CATCH_UP_S = 2.0
"""How long Invoke waits for the runtime to see a function created or changed a moment ago (the server
re-reads the store at least every 0.5 s)."""
CODE_GRACE_S = 5.0
"""A replaced code directory outlives the function's timeout by this much, for invocations still in it."""

RUNTIME_UNSUPPORTED = (
    "The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda functions. "
    "We recommend you use a supported runtime while creating or updating functions."
)
# The model's patterns, quoted in Lambda's ValidationException messages.
ROLE_PATTERN = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
FUNCTION_REF_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?"
    r"([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
STATEMENT_ID_PATTERN = r"([a-zA-Z0-9-_]+)"
ACTION_PATTERN = r"(lambda:[*]|lambda:[a-zA-Z]+|[*])"
_ROLE = re.compile(ROLE_PATTERN)
_FUNCTION_REF = re.compile(
    r"(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d):(?P<account>\d{12}):function:"
    r"|(?P<bare_account>\d{12}):function:)?"
    r"(?P<name>[a-zA-Z0-9_.-]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?"
)
_STATEMENT_ID = re.compile(STATEMENT_ID_PATTERN)
_ACTION = re.compile(ACTION_PATTERN)
_VERSIONED_PATH = re.compile(r"^/\d{4}-\d{2}-\d{2}/")

# FunctionConfiguration members that are stageway's own or live elsewhere in Lambda's answers.
_NOT_CONFIGURATION = frozenset({"stageway", "ReservedConcurrentExecutions"})


class ValidationException(AwsError):
    """Lambda's model-constraint failures ("1 validation error detected: Value ... at ..."), HTTP 400."""

    status, error_type = 400, "ValidationException"


class PreconditionFailedException(LambdaError):
    status, error_type = 412, "PreconditionFailedException"


class UnknownOperationException(LambdaError):
    status, error_type = 404, "UnknownOperationException"


class Invoker(Protocol):
    """What Invoke needs of the local runtime (`stageway.functions.LocalRuntime`)."""

    async def invoke(
        self, name: str, payload: bytes, *, request_id: str | None = None, client_context: str | None = None
    ) -> InvocationResult: ...


@dataclass(frozen=True, slots=True)
class FunctionRef:
    """A function named in a path: a name, a partial ARN or a full ARN, maybe with a qualifier."""

    name: str
    qualifier: str | None
    given: str


Operation = Callable[..., Any]
"""`(LambdaApi, AdminRequest, path parameters) -> AdminResponse`; Invoke's is a coroutine function."""


class LambdaApi:
    def __init__(self, store: Store, invoker: Invoker, *, code_root: Path, region: str, account_id: str) -> None:
        self.store = store
        self.invoker = invoker
        self.code = CodeStore(code_root)
        self.region = region
        self.account_id = account_id
        self._background: set[asyncio.Task[Any]] = set()

    # ----------------------------------------------------------------------------------------------
    # Dispatch

    async def handle(self, request: AdminRequest) -> AdminResponse | None:
        """Lambda's answer to `request`, or None when the request is not for Lambda's API."""
        if not _VERSIONED_PATH.match(request.path) and not request.path.startswith("/stageway/functions/"):
            return None
        try:
            for method, pattern, operation in _ROUTES:
                match = pattern.fullmatch(request.path)
                if match is None or method != request.method:
                    continue
                params = match.groupdict()
                if operation is LambdaApi.invoke:
                    return await self.invoke(request, params)
                response = await asyncio.to_thread(operation, self, request, params)
                if operation in (LambdaApi.update_function_code, LambdaApi.delete_function):
                    await self._clean_up_code(params["name"])
                return response
            raise UnknownOperationException(f"Unknown operation: {request.method} {request.path}")
        except AwsError as error:
            return error.to_response()

    # ----------------------------------------------------------------------------------------------
    # Functions

    def create_function(self, request: AdminRequest, params: dict[str, str]) -> AdminResponse:
        body = request.json()
        name = body.get("FunctionName")
        if name is None:
            raise _null("functionName")
        _check(validation.validate_function_name, name)
        _check_role(body)
        if body.get("PackageType", "Zip") != "Zip":
            raise InvalidParameterValueException("stageway runs .zip file archives only (PackageType Zip).")
        runtime, handler = body.get("Runtime"), body.get("Handler")
        if not runtime or not handler:
            raise InvalidParameterValueException(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages."
            )
        settings = _settings(body)
        code = body.get("Code")
        if not isinstance(code, dict):
            raise _null("code")
        zip_bytes = _zip_file(code)
        if self.store.get("function", "", name) is not None:
            raise _already_exists(name)

        stored = self._store_code(name, zip_bytes)
        doc: Document = {
            "FunctionName": name,
            "FunctionArn": self.arn(name),
            "Runtime": runtime,
            "Role": body["Role"],
            "Handler": handler,
            "CodeSize": stored.size,
            "Description": settings.get("Description", ""),
            "Timeout": settings.get("Timeout", DEFAULT_TIMEOUT_S),
            "MemorySize": settings.get("MemorySize", DEFAULT_MEMORY_MB),
            "LastModified": lambda_timestamp(),
            "CodeSha256": stored.sha256,
            "Version": LATEST,
            "TracingConfig": body.get("TracingConfig") or {"Mode": "PassThrough"},
            "RevisionId": str(uuid.uuid4()),
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": body.get("Architectures") or ["x86_64"],
            "EphemeralStorage": body.get("EphemeralStorage") or {"Size": 512},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "LoggingConfig": body.get("LoggingConfig") or {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
            "stageway": {"codeDirectory": str(stored.directory)},
        }
        if "Environment" in settings:
            doc["Environment"] = settings["Environment"]
        tags = body.get("Tags")
        if tags:
            doc["stageway"]["tags"] = _tags(tags)
        try:
            self._check_runnable(doc)
            with self.store.transaction():
                if self.store.get("function", "", name) is not None:
                    raise _already_exists(name)  # created by someone else while the zip was unpacked
                self.store.put("function", "", name, doc)
        except BaseException:
            self.code.remove_revisions(name, keep=self._code_in_use(name))
            raise
        return _json(201, configuration(doc))

    def get_function(self, request: AdminRequest, params: dict[str, str]) -> AdminResponse:
        doc = self._require(request, params)
        answer: Document = {
            "Configuration": configuration(doc),
            "Code": {"RepositoryType": "S3", "Location": self._code_location(request, doc)},
        }
        tags = doc.get("stageway", {}).get("tags")
        if tags:
            answer["Tags"] = tags
        if doc.get("ReservedConcurrentExecutions") is not None:
            answer["Concurrency"] = {"ReservedConcurrentExecutions": doc["ReservedConcurrentExecutions"]}
        return _json(200, answer)

    def get_function_configuration(self, request: AdminRequest, params: dict[str, str]) -> AdminResponse:
        return _json(200, configuration(self._require(request, params)))

    def list_functions(self, request: AdminRequest, params: dict[str, str]) -> AdminResponse:
        functions = sorted(self.store.list("function"), key=lambda doc: doc["FunctionName"])
        marker = request.query_value("Marker")
        start = 0
        if marker:
            after = _decode_marker(marker)
            start = next((i for i, doc in enumerate(functions) if doc["FunctionName"] > after), len(functions))
        limit = LIST_PAGE_SIZE
        max_items = request.query_value("MaxItems")
        if max_items is not None:
            if not max_items.lstrip("-").isdigit():
                raise ValidationException(f"1 validation error detected: Value '{max_items}' at 'maxItems' "
                                          "failed to satisfy constraint: Member must be a number")
            _check_range_value(int(max_items), "maxItems", 1, MAX_LIST_ITEMS)
            limit = min(limit, int(max_items))
        page = functions[start : start + limit]
        answer: Document = {"Functions": [configuration(doc) for doc in page]}
        if start + limit < len(functions):
            answer["NextMarker"] = _encode_marker(page[-1]["FunctionName"])
        return _json(200, answer)

    def delete_function(self, request: AdminRequest, params: dict[str, str]) -> AdminResponse:
        ref = self._ref(request, params)
        if ref.qualifier not in (None, LATEST):
            raise ResourceNotFoundException(f"Function not found: {self.arn(ref.name, ref.qualifier)}")
        with self.store.transaction():
            if not self.store.delete("function", "", ref.name):
                raise self._not_found(ref)
        return AdminResponse(204, b"", _request_id_header())

    def update_function_code(self, request: AdminRequest, params: dict[str, str]) -> AdminResponse:
        body = request.json()
        ref = self._ref(request, params)
        doc = self._require_ref(ref)
        _check_revision(doc, body.get("RevisionId"))
        zip_bytes = _zip_file(body)
        if body.get("DryRun"):
            # Lambda checks the package and answers with what the configuration would be.
            preview = dict(doc, CodeSize=len(zip_bytes), CodeSha256=_sha256_b64(zip_bytes))
            return _json(200, configuration(preview))
        stored = self._store_code(ref.name, zip_bytes)
        try:
            with self.store.transaction():
                doc = self._require_ref(ref)
                _check_revision(doc, body.get("RevisionId"))
                doc.update(
                    CodeSize=stored.size,
                    CodeSha256=stored.sha256,
                    LastModified=lambda_timestamp(),
                    RevisionId=str(uuid.uuid4()),
                    LastUpdateStatus="Successful",
                )
                if body.get("Architectures"):
                    doc["Architectures"] = body["Architectures"]
                doc["stageway"] = {**doc.get("stageway", {}), "codeDirectory": str(stored.directory)}
                self._check_runnable(doc)
                self.store.put("function", "", ref.name, doc)
        except BaseException:
            self.code.remove_revisions(ref.name, keep=self._code_in_use(ref.name))
            raise
        return _json(200, configuration(doc))

    def update_function_configuration(self, request: AdminRequest, params: dict[str, str]) -> AdminResponse:
        body = request.json()
        ref = self._ref(request, params)
        self._require_ref(ref)
        if "Role" in body:
            _check_role(body)
        settings = _settings(body)
        with self.store.transaction():
            doc = self._require_ref(ref)
            _check_revision(doc, body.get("RevisionId"))
            for field in ("Role", "Runtime", "Handler", "TracingConfig", "EphemeralStorage", "LoggingConfig"):
                if field in body:
                    doc[field] = body[field]
            doc.update(settings)
            doc.update(LastModified=lambda_timestamp(), RevisionId=str(uuid.uuid4()), LastUpdateStatus="Successful")
            self._check_runnable(doc)
            self.store.put("function", "", ref.name, doc)
        return _json(200, configuration(doc))

    # ----------------------------------------------------------------------------------------------
    # Resource-based policy

    def add_permission(self, request: AdminRequest, params: dict[str, str]) -> AdminResponse:
        body = request.json()
        ref = self._ref(request, params)
        for member in ("StatementId", "Action", "Principal"):
            if not isinstance(body.get(member), str):
                raise _null(member[0].lower() + member[1:])
        sid, action, principal = body["StatementId"], body["Action"], body["Principal"]
        if len(sid) > 100 or not _STATEMENT_ID.fullmatch(sid):
            raise _pattern(sid, "statementId", STATEMENT_ID_PATTERN)
        if not _ACTION.fullmatch(action):
            raise _pattern(action, "action", ACTION_PATTERN)
        with self.store.transaction():
            doc = self._require_ref(ref)
            _check_revision(doc, body.get("RevisionId"))
            private = doc.setdefault("stageway", {})
            statements: list[Document] = private.setdefault("policy", [])
            if any(statement["Sid"] == sid for statement in statements):
                raise ResourceConflictException(
                    f"The statement id ({sid}) provided already exists. Please provide a new statement id, "
                    "or remove the existing statement."
                )
            statement = _statement(sid, action, principal, doc["FunctionArn"], body)
            statements.append(statement)
            doc["RevisionId"] = str(uuid.uuid4())
            self.store.put("function", "", ref.name, doc)
        return _json(201, {"Statement": orjson.dumps(statement).decode()})

    def get_policy(self, request: AdminRequest, params: dict[str, str]) -> AdminResponse:
        doc = self._require(request, params)
        statements = doc.get("stageway", {}).get("policy") or []
        if not statements:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        policy = {"Version": "2012-10-17", "Id": "default", "Statement": statements}
        return _json(200, {"Policy": orjson.dumps(policy).decode(), "RevisionId": revision_id(doc)})

    def remove_permission(self, request: AdminRequest, params: dict[str, str]) -> AdminResponse:
        ref = self._ref(request, params)
        sid = params["sid"]
        with self.store.transaction():
            doc = self._require_ref(ref)
            _check_revision(doc, request.query_value("RevisionId"))
            private = doc.setdefault("stageway", {})
            statements = private.get("policy") or []
            kept = [statement for statement in statements if statement["Sid"] != sid]
            if len(kept) == len(statements):
                raise ResourceNotFoundException(f"Statement {sid} is not found in resource policy.")
            private["policy"] = kept
            doc["RevisionId"] = str(uuid.uuid4())
            self.store.put("function", "", ref.name, doc)
        return AdminResponse(204, b"", _request_id_header())

    # ----------------------------------------------------------------------------------------------
    # Reserved concurrency

    def put_function_concurrency(self, request: AdminRequest, params: dict[str, str]) -> AdminResponse:
        body = request.json()
        ref = self._ref(request, params)
        reserved = body.get("ReservedConcurrentExecutions")
        if reserved is None:
            raise _null("reservedConcurrentExecutions")
        _check(validation.validate_reserved_concurrency, reserved)
        with self.store.transaction():
            doc = self._require_ref(ref)
            doc["ReservedConcurrentExecutions"] = reserved
            self.store.put("function", "", ref.name, doc)
        return _json(200, {"ReservedConcurrentExecutions": reserved})

    def get_function_concurrency(self, request: AdminRequest, params: dict[str, str]) -> AdminResponse:
        doc = self._require(request, params)
        reserved = doc.get("ReservedConcurrentExecutions")
        return _json(200, {} if reserved is None else {"ReservedConcurrentExecutions": reserved})

    def delete_function_concurrency(self, request: AdminRequest, params: dict[str, str]) -> AdminResponse:
        ref = self._ref(request, params)
        with self.store.transaction():
            doc = self._require_ref(ref)
            if doc.pop("ReservedConcurrentExecutions", None) is not None:
                self.store.put("function", "", ref.name, doc)
        return AdminResponse(204, b"", _request_id_header())

    # ----------------------------------------------------------------------------------------------
    # Tags

    def list_tags(self, request: AdminRequest, params: dict[str, str]) -> AdminResponse:
        doc = self._tagged(params["resource"])
        return _json(200, {"Tags": doc.get("stageway", {}).get("tags", {})})

    def tag_resource(self, request: AdminRequest, params: dict[str, str]) -> AdminResponse:
        tags = request.json().get("Tags")
        if tags is None:
            raise _null("tags")
        new_tags = _tags(tags)
        with self.store.transaction():
            doc = self._tagged(params["resource"])
            private = doc.setdefault("stageway", {})
            private["tags"] = {**private.get("tags", {}), **new_tags}
            self.store.put("function", "", doc["FunctionName"], doc)
        return AdminResponse(204, b"", _request_id_header())

    def untag_resource(self, request: AdminRequest, params: dict[str, str]) -> AdminResponse:
        keys = request.query.get("tagKeys") or []
        with self.store.transaction():
            doc = self._tagged(params["resource"])
            private = doc.setdefault("stageway", {})
            private["tags"] = {key: value for key, value in private.get("tags", {}).items() if key not in keys}
            self.store.put("function", "", doc["FunctionName"], doc)
        return AdminResponse(204, b"", _request_id_header())

    # ----------------------------------------------------------------------------------------------
    # Code download (GetFunction's `Code.Location`; not an AWS operation)

    def download_code(self, request: AdminRequest, params: dict[str, str]) -> AdminResponse:
        doc = self.store.get("function", "", params["name"])
        directory = (doc or {}).get("stageway", {}).get("codeDirectory")
        if doc is None or not directory or not Path(directory).is_dir():
            raise self._not_found(FunctionRef(params["name"], None, params["name"]))
        return AdminResponse(
            200,
            zip_directory(Path(directory)),
            [("content-type", "application/zip"), *_request_id_header()],
        )

    # ----------------------------------------------------------------------------------------------
    # Invoke

    async def invoke(self, request: AdminRequest, params: dict[str, str]) -> AdminResponse:
        ref = self._ref(request, params)
        doc = self._require_ref(ref)
        invocation_type = request.headers.get("x-amz-invocation-type", "RequestResponse")
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise ValidationException(
                f"1 validation error detected: Value '{invocation_type}' at 'invocationType' failed to satisfy "
                "constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            )
        log_type = request.headers.get("x-amz-log-type", "None")
        if log_type not in ("None", "Tail"):
            raise ValidationException(
                f"1 validation error detected: Value '{log_type}' at 'logType' failed to satisfy constraint: "
                "Member must satisfy enum value set: [Tail, None]"
            )
        if invocation_type == "DryRun":
            return AdminResponse(204, b"", _request_id_header())
        payload = request.body if request.body.strip() else b"{}"
        try:
            orjson.loads(payload)
        except orjson.JSONDecodeError as error:
            raise InvalidRequestContentException(
                f"Could not parse request body into json: Could not parse payload into json: {error}"
            ) from None
        client_context = _client_context(request.headers.get("x-amz-client-context"))
        request_id = str(uuid.uuid4())
        await self._wait_for_runtime(doc)

        if invocation_type == "Event":
            task = asyncio.get_running_loop().create_task(
                self._invoke_in_background(ref.name, payload, request_id, client_context)
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return AdminResponse(202, b"", [("x-amzn-requestid", request_id)])

        result = await self._run(ref, payload, request_id, client_context)
        headers = [
            ("content-type", "application/json"),
            ("x-amzn-requestid", result.request_id),
            ("x-amz-executed-version", LATEST),
        ]
        if result.function_error:
            headers.append(("x-amz-function-error", result.function_error))
        if log_type == "Tail":
            tail = result.log_tail.encode()[-LOG_TAIL_BYTES:]
            headers.append(("x-amz-log-result", base64.b64encode(tail).decode()))
        return AdminResponse(200, result.payload, headers)

    async def _run(
        self, ref: FunctionRef, payload: bytes, request_id: str, client_context: str | None
    ) -> InvocationResult:
        try:
            return await self.invoker.invoke(
                ref.name, payload, request_id=request_id, client_context=client_context
            )
        except FunctionNotFound:
            raise self._not_found(ref) from None
        except RequestTooLarge:
            raise RequestTooLargeException(
                "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
            ) from None

    async def _invoke_in_background(
        self, name: str, payload: bytes, request_id: str, client_context: str | None
    ) -> None:
        # Lambda queues an Event invocation and answers 202 at once; a failure only shows in the logs.
        try:
            result = await self._run(FunctionRef(name, None, name), payload, request_id, client_context)
        except AwsError as error:
            log.warning("async invocation %s of %s failed: %s", request_id, name, error.message)
        except Exception:
            log.exception("async invocation %s of %s failed", request_id, name)
        else:
            if result.function_error:
                log.warning(
                    "async invocation %s of %s failed (%s): %s",
                    request_id, name, result.function_error, result.payload[:1000].decode("utf-8", "replace"),
                )

    async def _wait_for_runtime(self, doc: Document) -> None:
        """Wait (briefly) until the runtime runs the function as the store describes it now.

        The server re-reads the store on a timer; without this, an Invoke right after CreateFunction or
        UpdateFunctionCode could find no function, or the previous code.
        """
        current = getattr(self.invoker, "function", None)
        if current is None:
            return
        try:
            wanted = function_config(doc, region=self.region, account_id=self.account_id)
        except ValueError:
            return
        deadline = asyncio.get_running_loop().time() + RUNTIME_CATCH_UP_S
        while current(doc["FunctionName"]) != wanted and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)

    # ----------------------------------------------------------------------------------------------
    # Helpers

    def arn(self, name: str, qualifier: str | None = None) -> str:
        arn = f"arn:{validation.partition_of(self.region)}:lambda:{self.region}:{self.account_id}:function:{name}"
        return f"{arn}:{qualifier}" if qualifier else arn

    def _ref(self, request: AdminRequest, params: dict[str, str]) -> FunctionRef:
        given = params["name"]
        match = _FUNCTION_REF.fullmatch(given)
        if match is None or len(given) > 256:
            raise _pattern(given, "functionName", FUNCTION_REF_PATTERN)
        account = match.group("account") or match.group("bare_account")
        qualifier = match.group("qualifier") or request.query_value("Qualifier") or None
        ref = FunctionRef(match.group("name"), qualifier, given)
        if (match.group("region") not in (None, self.region)) or account not in (None, self.account_id):
            raise ResourceNotFoundException(f"Function not found: {given}")
        return ref

    def _require(self, request: AdminRequest, params: dict[str, str]) -> Document:
        return self._require_ref(self._ref(request, params))

    def _require_ref(self, ref: FunctionRef) -> Document:
        doc = self.store.get("function", "", ref.name)
        if doc is None or ref.qualifier not in (None, LATEST):
            raise self._not_found(ref)
        return doc

    def _not_found(self, ref: FunctionRef) -> ResourceNotFoundException:
        return ResourceNotFoundException(f"Function not found: {self.arn(ref.name, ref.qualifier)}")

    def _tagged(self, resource: str) -> Document:
        match = _FUNCTION_REF.fullmatch(resource)
        doc = self.store.get("function", "", match.group("name")) if match and match.group("region") else None
        if doc is None or doc["FunctionArn"] != resource:
            raise ResourceNotFoundException(f"Function not found: {resource}")
        return doc

    def _store_code(self, name: str, zip_bytes: bytes) -> StoredCode:
        try:
            return self.code.store(name, uuid.uuid4().hex, zip_bytes)
        except PackageError as error:
            raise InvalidParameterValueException(str(error)) from None

    def _check_runnable(self, doc: Document) -> None:
        # The data plane builds the runtime's FunctionConfig from this document: refuse what it would refuse.
        try:
            function_config(doc, region=self.region, account_id=self.account_id)
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidParameterValueException(str(error)) from None

    def _code_in_use(self, name: str) -> set[Path]:
        doc = self.store.get("function", "", name)
        directory = (doc or {}).get("stageway", {}).get("codeDirectory")
        return {Path(directory)} if directory else set()

    def _code_location(self, request: AdminRequest, doc: Document) -> str:
        host = request.headers.get("host", "127.0.0.1")
        return f"http://{host}/stageway/functions/{doc['FunctionName']}/code.zip"

    async def _clean_up_code(self, given_name: str) -> None:
        """Remove code directories no longer in use: at once the ones before the last, the last one once
        invocations that may still run in it are done (the function's timeout, and a little more)."""
        match = _FUNCTION_REF.fullmatch(given_name)
        if match is None:
            return
        name = match.group("name")
        delay = await asyncio.to_thread(self._sweep_code, name)
        if delay is not None:
            loop = asyncio.get_running_loop()
            loop.call_later(delay, lambda: self._track(loop.create_task(self._cleanup_later(name))))

    def _sweep_code(self, name: str) -> float | None:
        doc = self.store.get("function", "", name)
        if doc is None:
            self.code.remove_revisions(name, keep=set())
            return None
        in_use = self._code_in_use(name)
        previous = _newest_other(self.code.function_directory(name), in_use)
        self.code.remove_revisions(name, keep=in_use | ({previous} if previous else set()))
        return float(doc.get("Timeout", DEFAULT_TIMEOUT_S)) + CODE_GRACE_S if previous else None

    async def _cleanup_later(self, name: str) -> None:
        try:
            await asyncio.to_thread(lambda: self.code.remove_revisions(name, keep=self._code_in_use(name)))
        except Exception:
            log.exception("removing old code of function %s failed", name)

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)


# --------------------------------------------------------------------------------------------------
# Documents as Lambda answers them


def configuration(doc: Document) -> Document:
    """The FunctionConfiguration of a stored function (never stageway's private key)."""
    answer = {key: value for key, value in doc.items() if key not in _NOT_CONFIGURATION}
    answer.setdefault("RevisionId", revision_id(doc))
    answer.setdefault("CodeSize", 0)
    return answer


def revision_id(doc: Document) -> str:
    """The stored RevisionId; for a function written by the YAML loader, one derived from its content."""
    if "RevisionId" in doc:
        return str(doc["RevisionId"])
    digest = hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def lambda_timestamp(now: datetime | None = None) -> str:
    """`2024-01-01T00:00:00.000+0000`: Lambda's `LastModified`."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _statement(sid: str, action: str, principal: str, function_arn: str, body: Document) -> Document:
    statement: Document = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": _principal(principal),
        "Action": action,
        "Resource": function_arn,
    }
    conditions: dict[str, dict[str, str]] = {}
    if body.get("SourceArn"):
        conditions.setdefault("ArnLike", {})["AWS:SourceArn"] = body["SourceArn"]
    for member, key in (
        ("SourceAccount", "AWS:SourceAccount"),
        ("PrincipalOrgID", "aws:PrincipalOrgID"),
        ("EventSourceToken", "lambda:EventSourceToken"),
        ("FunctionUrlAuthType", "lambda:FunctionUrlAuthType"),
    ):
        if body.get(member):
            conditions.setdefault("StringEquals", {})[key] = body[member]
    if conditions:
        statement["Condition"] = conditions
    return statement


def _principal(principal: str) -> str | dict[str, str]:
    # Lambda rewrites the principal the way IAM spells it in a policy.
    if principal == "*":
        return "*"
    if re.fullmatch(r"\d{12}", principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if principal.startswith("arn:"):
        return {"AWS": principal}
    return {"Service": principal}


# --------------------------------------------------------------------------------------------------
# Validation, in Lambda's words


def _check(validator: Callable[[Any], None], value: Any) -> None:
    try:
        validator(value)
    except ValidationError as error:
        raise _lambda_error(error) from None


def _lambda_error(error: ValidationError) -> AwsError:
    if error.message.startswith("Value "):
        return ValidationException(f"1 validation error detected: {error.message}")
    return InvalidParameterValueException(error.message)


def _null(field: str) -> ValidationException:
    return ValidationException(
        f"1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
    )


def _pattern(value: str, field: str, pattern: str) -> ValidationException:
    return ValidationException(
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {pattern}"
    )


def _check_range_value(value: int, field: str, low: int, high: int) -> None:
    if value < low:
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
            f"Member must have value greater than or equal to {low}"
        )
    if value > high:
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
            f"Member must have value less than or equal to {high}"
        )


def _check_role(body: Document) -> None:
    role = body.get("Role")
    if role is None:
        raise _null("role")
    if not isinstance(role, str) or not _ROLE.fullmatch(role):
        raise _pattern(str(role), "role", ROLE_PATTERN)


def _check_runtime(runtime: object) -> None:
    if runtime not in validation.PYTHON_RUNTIMES:
        raise InvalidParameterValueException(RUNTIME_UNSUPPORTED.format(runtime=runtime))


def _settings(body: Document) -> Document:
    """The checked configuration members both CreateFunction and UpdateFunctionConfiguration take."""
    settings: Document = {}
    if body.get("Runtime") is not None:
        _check_runtime(body["Runtime"])
    if body.get("Handler") is not None:
        _check(validation.validate_handler, body["Handler"])
    if body.get("Timeout") is not None:
        _check(validation.validate_function_timeout, body["Timeout"])
        settings["Timeout"] = body["Timeout"]
    if body.get("MemorySize") is not None:
        _check(validation.validate_memory_size, body["MemorySize"])
        settings["MemorySize"] = body["MemorySize"]
    if body.get("Description") is not None:
        description = body["Description"]
        if not isinstance(description, str) or len(description) > 256:
            raise ValidationException(
                f"1 validation error detected: Value '{description}' at 'description' failed to satisfy "
                "constraint: Member must have length less than or equal to 256"
            )
        settings["Description"] = description
    if body.get("Environment") is not None:
        environment = body["Environment"]
        variables = environment.get("Variables", {}) if isinstance(environment, dict) else None
        if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
            raise InvalidParameterValueException("Environment.Variables must be a map of strings to strings.")
        _check(validation.validate_environment, variables)
        settings["Environment"] = {"Variables": dict(variables)}
    return settings


def _tags(tags: object) -> dict[str, str]:
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise InvalidParameterValueException("Tags must be a map of strings to strings.")
    return dict(tags)


def _check_revision(doc: Document, wanted: object) -> None:
    if wanted and wanted != revision_id(doc):
        raise PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
        )


def _zip_file(code: Document) -> bytes:
    if code.get("ImageUri") or code.get("S3Bucket") or code.get("S3Key"):
        raise InvalidParameterValueException(
            "stageway takes function code as a .zip file in ZipFile; S3Bucket/S3Key and ImageUri are not supported."
        )
    encoded = code.get("ZipFile")
    if not encoded or not isinstance(encoded, str):
        raise InvalidParameterValueException("Please provide a source for function code.")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameterValueException(UNZIP_FAILED) from None


def _sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _already_exists(name: str) -> ResourceConflictException:
    return ResourceConflictException(f"Function already exist: {name}")  # sic: Lambda's wording


def _client_context(header: str | None) -> str | None:
    """`X-Amz-Client-Context` is base64 JSON; the runtime receives the JSON itself, on one line."""
    if not header:
        return None
    try:
        return orjson.dumps(orjson.loads(base64.b64decode(header, validate=True))).decode()
    except (binascii.Error, ValueError):
        raise InvalidRequestContentException("Client context must be a valid Base64-encoded JSON object.") from None


def _encode_marker(name: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"after": name})).decode()


def _decode_marker(marker: str) -> str:
    try:
        after = orjson.loads(base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4)))["after"]
        if isinstance(after, str):
            return after
    except (binascii.Error, ValueError, TypeError, KeyError):
        pass
    raise InvalidParameterValueException("Invalid marker specified")


def _newest_other(folder: Path, in_use: set[Path]) -> Path | None:
    if not folder.is_dir():
        return None
    used = {path.resolve() for path in in_use}
    others = [
        child for child in folder.iterdir()
        if child.is_dir() and not child.name.startswith(".") and child.resolve() not in used
    ]
    return max(others, key=lambda child: child.stat().st_mtime, default=None)


def _json(status: int, value: Any) -> AdminResponse:
    return AdminResponse.json(status, value, _request_id_header())


def _request_id_header() -> list[tuple[str, str]]:
    return [("x-amzn-requestid", str(uuid.uuid4()))]


_NAME = r"(?P<name>[^/]+)"
_FUNCTIONS = f"/{API_VERSION}/functions"
_ROUTES: list[tuple[str, re.Pattern[str], Operation]] = [
    (method, re.compile(pattern), operation)
    for method, pattern, operation in [
        ("POST", rf"{_FUNCTIONS}/?", LambdaApi.create_function),
        ("GET", rf"{_FUNCTIONS}/?", LambdaApi.list_functions),
        ("GET", rf"{_FUNCTIONS}/{_NAME}/?", LambdaApi.get_function),
        ("DELETE", rf"{_FUNCTIONS}/{_NAME}/?", LambdaApi.delete_function),
        ("GET", rf"{_FUNCTIONS}/{_NAME}/configuration/?", LambdaApi.get_function_configuration),
        ("PUT", rf"{_FUNCTIONS}/{_NAME}/configuration/?", LambdaApi.update_function_configuration),
        ("PUT", rf"{_FUNCTIONS}/{_NAME}/code/?", LambdaApi.update_function_code),
        ("POST", rf"{_FUNCTIONS}/{_NAME}/policy/?", LambdaApi.add_permission),
        ("GET", rf"{_FUNCTIONS}/{_NAME}/policy/?", LambdaApi.get_policy),
        ("DELETE", rf"{_FUNCTIONS}/{_NAME}/policy/(?P<sid>[^/]+)/?", LambdaApi.remove_permission),
        ("POST", rf"{_FUNCTIONS}/{_NAME}/invocations/?", LambdaApi.invoke),
        ("PUT", rf"/2017-10-31/functions/{_NAME}/concurrency/?", LambdaApi.put_function_concurrency),
        ("DELETE", rf"/2017-10-31/functions/{_NAME}/concurrency/?", LambdaApi.delete_function_concurrency),
        ("GET", rf"/2019-09-30/functions/{_NAME}/concurrency/?", LambdaApi.get_function_concurrency),
        ("GET", r"/2017-03-31/tags/(?P<resource>[^/]+)/?", LambdaApi.list_tags),
        ("POST", r"/2017-03-31/tags/(?P<resource>[^/]+)/?", LambdaApi.tag_resource),
        ("DELETE", r"/2017-03-31/tags/(?P<resource>[^/]+)/?", LambdaApi.untag_resource),
        ("GET", rf"/stageway/functions/{_NAME}/code\.zip", LambdaApi.download_code),
    ]
]
