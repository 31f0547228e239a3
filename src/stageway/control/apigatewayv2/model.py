"""botocore's apigatewayv2 model, as the admin listener needs it: operations, request shapes, output members.

The contract is botocore's `apigatewayv2/2018-11-29/service-2.json`. botocore is a test dependency, not a
runtime one, so the part we need is vendored in `_model_data.py` (no documentation strings), regenerated with

    .venv/bin/python -m stageway.control.apigatewayv2.model > src/stageway/control/apigatewayv2/_model_data.py

and kept honest by a test that regenerates it from the installed botocore and compares.

`read_input` turns one HTTP request into the operation's input, keyed by wire name (`apiId`, `maxResults`,
`routeKey`...), refusing what the model says cannot be: a missing required member, a string where an integer
belongs, a value outside an enum.
"""

from __future__ import annotations

import pprint
import sys
from dataclasses import dataclass
from typing import Any

from stageway.control.apigatewayv2._model_data import OPERATIONS, SHAPES
from stageway.control.wire import AdminRequest, BadRequestException

Params = dict[str, Any]

# Operations on these paths are served here; the rest of the model (portals, routing rules) is known
# only so that a call to it gets a clear answer instead of "unknown operation".
SERVED_PREFIXES = ("/v2/apis", "/v2/domainnames/{domainName}/apimappings", "/v2/tags", "/v2/vpclinks")
SERVED_EXACT = ("/v2/domainnames", "/v2/domainnames/{domainName}")


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    method: str
    uri: str
    success_status: int
    input: dict[str, Any] | None
    output_members: frozenset[str] | None

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.uri.strip("/").split("/"))


def operations() -> list[Operation]:
    return [
        Operation(
            name=name,
            method=spec["method"],
            uri=spec["uri"],
            success_status=spec["status"],
            input=spec.get("input"),
            output_members=frozenset(spec["output"]) if spec.get("output") is not None else None,
        )
        for name, spec in OPERATIONS.items()
    ]


# Labels for the enum message; AWS's wording for protocolType is known (spec §1.3, [EMU: moto]):
# "Invalid protocol specified. Must be one of [HTTP, WEBSOCKET]". Other enums follow the same pattern [INF].
_ENUM_LABELS = {
    "protocolType": "protocol",
    "integrationType": "integration type",
    "authorizationType": "authorization type",
    "authorizerType": "authorizer type",
    "connectionType": "connection type",
    "ipAddressType": "IP address type",
}


def read_input(operation: Operation, request: AdminRequest, uri_params: dict[str, str]) -> Params:
    """The operation's input members by wire name, validated against the model's types."""
    spec = operation.input or {}
    params: Params = dict(uri_params)
    for wire_name, shape_name in spec.get("querystring", {}).items():
        values = request.query.get(wire_name)
        if not values:
            continue
        if SHAPES[shape_name]["type"] == "list":
            params[wire_name] = list(values)
        else:
            params[wire_name] = _check(values[-1], shape_name, wire_name)
    body_members: dict[str, str] = spec.get("body", {})
    if body_members:
        body = request.json()
        for wire_name, value in body.items():
            shape_name = body_members.get(wire_name)
            # Members the model doesn't know are ignored, as AWS's deserializer does.
            if shape_name is not None and value is not None:
                params[wire_name] = _check(value, shape_name, wire_name)
    for wire_name in spec.get("required", ()):
        if wire_name not in params:
            raise BadRequestException(_required_message(wire_name))
    return params


def _required_message(wire_name: str) -> str:
    if wire_name == "routeKey":
        return "Route key is required"  # [OBS] spec §1.3
    # AWS's manner for a missing member ("PayloadFormatVersion is a required parameter ..."). [INF]
    return f"{wire_name[0].upper()}{wire_name[1:]} is a required parameter"


_JSON_KINDS = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}


def _type_error(value: object, expected: str, path: str) -> BadRequestException:
    # A mistyped member fails AWS's JSON deserialization, reported as a parse failure of the body. [INF]
    found = _JSON_KINDS.get(type(value), type(value).__name__)
    return BadRequestException(
        f"Could not parse request body into json: Cannot deserialize value of type {expected} from {found} "
        f"at '{path}'"
    )


def _check(value: Any, shape_name: str, path: str) -> Any:
    shape = SHAPES[shape_name]
    kind = shape["type"]
    if kind == "string":
        if not isinstance(value, str):
            raise _type_error(value, "string", path)
        enum = shape.get("enum")
        if enum is not None and value not in enum:
            label = _ENUM_LABELS.get(path.rsplit(".", 1)[-1], path)
            raise BadRequestException(f"Invalid {label} specified. Must be one of [{', '.join(sorted(enum))}]")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _type_error(value, "boolean", path)
        return value
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(value, "integer", path)
        return value
    if kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(value, "number", path)
        return value
    if kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise _type_error(value, "timestamp", path)
        return value
    if kind == "list":
        if not isinstance(value, list):
            raise _type_error(value, "array", path)
        return [_check(item, shape["member"], f"{path}[{index}]") for index, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise _type_error(value, "object", path)
        return {key: _check(item, shape["value"], f"{path}.{key}") for key, item in value.items()}
    if kind == "structure":
        if not isinstance(value, dict):
            raise _type_error(value, "object", path)
        members: dict[str, str] = shape["members"]
        return {
            key: _check(item, members[key], f"{path}.{key}")
            for key, item in value.items()
            if key in members and item is not None
        }
    raise _type_error(value, kind, path)


# --------------------------------------------------------------------------------------------------
# Regeneration from botocore (development only).


def _is_served(uri: str) -> bool:
    return uri in SERVED_EXACT or any(uri == p or uri.startswith(p + "/") for p in SERVED_PREFIXES)


def build_model_data(model: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(OPERATIONS, SHAPES) from a botocore service model."""
    shapes = model["shapes"]
    wanted: dict[str, Any] = {}

    def collect(name: str) -> str:
        if name in wanted:
            return name
        shape = shapes[name]
        compact: dict[str, Any] = {"type": shape["type"]}
        wanted[name] = compact
        for key in ("enum", "min", "max"):
            if key in shape:
                compact[key] = shape[key]
        if shape["type"] == "list":
            compact["member"] = collect(shape["member"]["shape"])
        elif shape["type"] == "map":
            compact["value"] = collect(shape["value"]["shape"])
        elif shape["type"] == "structure":
            compact["members"] = {
                member.get("locationName", member_name): collect(member["shape"])
                for member_name, member in shape["members"].items()
            }
        return name

    operations_data: dict[str, Any] = {}
    for name in sorted(model["operations"]):
        op = model["operations"][name]
        entry: dict[str, Any] = {
            "method": op["http"]["method"],
            "uri": op["http"]["requestUri"],
            "status": op["http"].get("responseCode", 200),
        }
        if _is_served(entry["uri"]):
            if "input" in op:
                input_shape = shapes[op["input"]["shape"]]
                locations: dict[str, dict[str, str]] = {"uri": {}, "querystring": {}, "header": {}, "body": {}}
                wire_names = {}
                for member_name, member in input_shape["members"].items():
                    wire = member.get("locationName", member_name)
                    wire_names[member_name] = wire
                    locations[member.get("location", "body")][wire] = collect(member["shape"])
                entry["input"] = {key: value for key, value in locations.items() if value}
                entry["input"]["required"] = [wire_names[m] for m in input_shape.get("required", [])]
            if "output" in op:
                output_shape = shapes[op["output"]["shape"]]
                entry["output"] = sorted(m.get("locationName", n) for n, m in output_shape["members"].items())
        operations_data[name] = entry
    return operations_data, dict(sorted(wanted.items()))


def render_model_data(model: dict[str, Any], source: str) -> str:
    operations_data, shapes_data = build_model_data(model)
    return (
        f'"""Generated from {source}\nby `python -m stageway.control.apigatewayv2.model`; do not edit."""\n\n'
        "from typing import Any\n\n"
        f"OPERATIONS: dict[str, Any] = {pprint.pformat(operations_data, width=110, sort_dicts=False)}\n\n"
        f"SHAPES: dict[str, Any] = {pprint.pformat(shapes_data, width=110, sort_dicts=False)}\n"
    )


def load_botocore_model() -> tuple[dict[str, Any], str]:
    import botocore
    import botocore.loaders

    loader = botocore.loaders.Loader()
    model: dict[str, Any] = loader.load_service_model("apigatewayv2", "service-2", api_version="2018-11-29")
    return model, f"botocore {botocore.__version__} apigatewayv2/2018-11-29/service-2.json"


if __name__ == "__main__":
    sys.stdout.write(render_model_data(*load_botocore_model()))
