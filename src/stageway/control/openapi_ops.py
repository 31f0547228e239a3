"""ImportApi, ReimportApi and ExportApi (spec §1.4, §12): OpenAPI documents in and out of the store.

An extra handler of the admin listener: `OpenApiOps(...).handle` answers these three operations and
returns None for every other request. The conversions themselves live in `stageway.core.openapi`; this
module reads the request, writes the store in one transaction and shapes AWS's answer.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from stageway.control.apigatewayv2.authorizers import MAX_AUTHORIZERS, validate_authorizer
from stageway.control.apigatewayv2.common import ID_LENGTHS, Context, not_found, require_api
from stageway.control.apigatewayv2.integrations import MAX_INTEGRATIONS
from stageway.control.apigatewayv2.integrations import validate as validate_integration
from stageway.control.apigatewayv2.render import render_api
from stageway.control.apigatewayv2.routes import MAX_ROUTES
from stageway.control.wire import (
    AdminRequest,
    AdminResponse,
    AwsError,
    BadRequestException,
    ConflictException,
)
from stageway.core.ids import new_api_id, random_id
from stageway.core.openapi import (
    IMPORT_EXPORT_VERSION,
    OUTPUT_TYPES,
    ApiResources,
    ImportedApi,
    OpenApiError,
    export_document,
    import_document,
    materialize,
    parse_document,
    serialize_document,
)
from stageway.store.base import Document, Store
from stageway.store.deployments import (
    SNAPSHOT_API_FIELDS,
    auto_deploy,
    new_api_document,
    stage_snapshot,
)

_API_PATH = re.compile(r"^/v2/apis/?$")
_ONE_API_PATH = re.compile(r"^/v2/apis/(?P<api_id>[^/]+)/?$")
_EXPORT_PATH = re.compile(r"^/v2/apis/(?P<api_id>[^/]+)/exports/(?P<specification>[^/]+)/?$")

# (kind, id member) of what an import writes and a reimport replaces.
_IMPORTED_KINDS = (("route", "routeId"), ("integration", "integrationId"), ("authorizer", "authorizerId"))
# Api fields a document sets; a reimport replaces each (removing it when the document has none),
# except tags and disableExecuteApiEndpoint, which it changes only when the document names them [INF].
_REPLACED_API_FIELDS = ("description", "version", "corsConfiguration")


class OpenApiOps:
    """The three OpenAPI operations over one store; `handle` is the admin app's extra handler."""

    def __init__(self, store: Store, *, region: str, account_id: str, data_plane_port: int) -> None:
        self.store = store
        self.region = region
        self.account_id = account_id
        self.context = Context(store, region, account_id, data_plane_port)

    async def handle(self, request: AdminRequest) -> AdminResponse | None:
        if request.method == "PUT" and _API_PATH.match(request.path):
            return await self._answer(self.import_api, request)
        if request.method == "PUT" and (match := _ONE_API_PATH.match(request.path)):
            return await self._answer(self.reimport_api, request, match.group("api_id"))
        if request.method == "GET" and (match := _EXPORT_PATH.match(request.path)):
            return await self._answer(self.export_api, request, match.group("api_id"), match.group("specification"))
        return None

    async def _answer(self, operation: Any, *args: Any) -> AdminResponse:
        # Off the event loop, as apigatewayv2's handlers run: the store is synchronous.
        try:
            response: AdminResponse = await asyncio.to_thread(operation, *args)
            return response
        except AwsError as error:
            return error.to_response()

    # -- ImportApi / ReimportApi -------------------------------------------------------------------

    def import_api(self, request: AdminRequest) -> AdminResponse:
        imported = self.read_import(request)
        if "name" not in imported.api:
            raise BadRequestException("The OpenAPI definition has no info.title, which names the API")
        with self.store.transaction():
            api_id = new_api_id()
            while self.store.get("api", "", api_id) is not None:
                api_id = new_api_id()
            api = new_api_document(api_id, dict(imported.api))
            self.store.put("api", "", api_id, api)
            self.write_resources(api_id, imported)
            auto_deploy(self.store, api_id)
        return AdminResponse.json(201, self.api_output(api, imported))

    def reimport_api(self, request: AdminRequest, api_id: str) -> AdminResponse:
        require_api(self.context, api_id)
        imported = self.read_import(request)
        with self.store.transaction():
            api = require_api(self.context, api_id)
            for kind, id_member in _IMPORTED_KINDS:
                for doc in self.store.list(kind, api_id):
                    self.store.delete(kind, api_id, doc[id_member])
            for name in _REPLACED_API_FIELDS:
                api.pop(name, None)
            api.update(imported.api)
            self.store.put("api", "", api_id, api)
            self.write_resources(api_id, imported)
            auto_deploy(self.store, api_id)
        return AdminResponse.json(201, self.api_output(api, imported))

    def read_import(self, request: AdminRequest) -> ImportedApi:
        body = request.json().get("body")
        if not isinstance(body, str) or not body.strip():
            raise BadRequestException("Body is a required parameter: the OpenAPI definition to import")
        try:
            imported = import_document(
                parse_document(body),
                basepath=request.query_value("basepath") or "ignore",
                region=self.region,
                account_id=self.account_id,
            )
        except OpenApiError as error:
            raise (ConflictException if error.status == 409 else BadRequestException)(error.message) from None
        if _query_flag(request, "failOnWarnings", default=False) and imported.warnings:
            # [EMU: moto] spec §1.3; the prefix is AWS's (terraform-provider-aws expects
            # "BadRequestException: Warnings found during import").
            raise BadRequestException("Warnings found during import:\n\t" + "\n\t".join(imported.warnings))
        return imported

    def write_resources(self, api_id: str, imported: ImportedApi) -> None:
        """Store what the document describes, refused (inside the caller's transaction) for the same
        reasons CreateIntegration and CreateAuthorizer would refuse it, and within the same quotas."""
        resources = materialize(imported, lambda kind: random_id(ID_LENGTHS[kind]))
        for kind, docs, limit in (
            ("routes", resources.routes, MAX_ROUTES),
            ("integrations", resources.integrations, MAX_INTEGRATIONS),
            ("authorizers", resources.authorizers, MAX_AUTHORIZERS),
        ):
            if len(docs) > limit:
                raise BadRequestException(f"Maximum number of {kind} ({limit}) reached for this API")  # [INF]
        for integration in resources.integrations:
            validate_integration(self.context, api_id, dict(integration))
            self.store.put("integration", api_id, integration["integrationId"], dict(integration))
        for authorizer in resources.authorizers:
            validate_authorizer(dict(authorizer))
            self.store.put("authorizer", api_id, authorizer["authorizerId"], dict(authorizer))
        for route in resources.routes:
            self.store.put("route", api_id, route["routeId"], dict(route))

    def api_output(self, api: Document, imported: ImportedApi) -> Document:
        """The Api as GetApi renders it, plus this import's `warnings` and `importInfo`."""
        output = render_api(self.context, api)
        if imported.warnings:
            output["warnings"] = list(imported.warnings)
        if imported.import_info:
            output["importInfo"] = list(imported.import_info)
        return output

    # -- ExportApi ---------------------------------------------------------------------------------

    def export_api(self, request: AdminRequest, api_id: str, specification: str) -> AdminResponse:
        api = require_api(self.context, api_id)
        if specification != "OAS30":
            raise BadRequestException(f"Unsupported specification: {specification}. OAS30 is the only supported value")
        output_type = request.query_value("outputType")
        if output_type is None:
            raise BadRequestException("OutputType is a required parameter: JSON or YAML")
        if output_type not in OUTPUT_TYPES:
            raise BadRequestException(f"Invalid output type: {output_type}. Valid values are JSON and YAML")
        export_version = request.query_value("exportVersion")
        if export_version is not None and export_version != IMPORT_EXPORT_VERSION:
            raise BadRequestException(
                f"Unsupported export version: {export_version}. The only supported version is {IMPORT_EXPORT_VERSION}"
            )
        stage_name = request.query_value("stageName")
        if stage_name is None:
            resources = ApiResources(
                api,
                self.store.list("route", api_id),
                self.store.list("integration", api_id),
                self.store.list("authorizer", api_id),
            )
            base_path, timestamp = "", str(api.get("createdDate", ""))
        else:
            resources, timestamp = self.stage_resources(api, stage_name)
            base_path = "" if stage_name == "$default" else stage_name
        document = export_document(
            resources,
            server_url=self.context.api_endpoint(api_id),
            base_path=base_path,
            include_extensions=_query_flag(request, "includeExtensions", default=True),
            timestamp=timestamp,
        )
        content_type = "application/json" if output_type == "JSON" else "application/yaml"
        return AdminResponse(200, serialize_document(document, output_type), [("content-type", content_type)])

    def stage_resources(self, api: Document, stage_name: str) -> tuple[ApiResources, str]:
        """What the stage serves: its deployment's snapshot (spec §12.2), and when that was made."""
        api_id = api["apiId"]
        stage = self.store.get("stage", api_id, stage_name)
        if stage is None:
            raise not_found("stage", stage_name)
        snapshot = stage_snapshot(self.store, api_id, stage)
        if snapshot is None:
            raise BadRequestException(f"Stage {stage_name} has no deployment to export")
        deployment = self.store.get("deployment", api_id, stage["deploymentId"]) or {}
        # The deployment's own copy of the API's deployed fields (CORS, name...), not today's.
        live = {key: value for key, value in api.items() if key not in SNAPSHOT_API_FIELDS}
        resources = ApiResources(
            {**live, **snapshot.get("api", {})},
            snapshot.get("routes", []),
            snapshot.get("integrations", []),
            snapshot.get("authorizers", []),
        )
        return resources, str(deployment.get("createdDate", ""))


def _query_flag(request: AdminRequest, name: str, *, default: bool) -> bool:
    value: Any = request.query_value(name)
    if value is None:
        return default
    if value.lower() not in ("true", "false"):
        raise BadRequestException(f"Invalid value for {name}: {value}. Valid values are true and false")
    return bool(value.lower() == "true")
