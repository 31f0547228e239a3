"""IAM policies of Lambda authorizers, evaluated the way IAM does: explicit Deny wins, no Allow means deny,
`*` and `?` wildcards on resources (and actions)."""

from __future__ import annotations

from typing import Any

import pytest

from stageway.auth.policy import PolicyError, parse_policy, route_arn
from tests.support.auth_requests import make_request, make_route

ARN = "arn:aws:execute-api:eu-west-1:111122223333:k3xq9zw1ab/prod/GET/pets/7"


def statement(effect: str, resource: Any, action: Any = "execute-api:Invoke", **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource, **extra}


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


CASES = [
    ("exact allow", policy(statement("Allow", ARN)), True),
    ("exact deny", policy(statement("Deny", ARN)), False),
    ("no statement matches", policy(statement("Allow", ARN.replace("GET", "POST"))), False),
    ("star at the end", policy(statement("Allow", "arn:aws:execute-api:eu-west-1:111122223333:k3xq9zw1ab/*")), True),
    ("star spans slashes", policy(statement("Allow", "arn:aws:execute-api:*:*:k3xq9zw1ab/*/GET/*")), True),
    ("star for the method", policy(statement("Allow", "arn:aws:execute-api:eu-west-1:111122223333:k3xq9zw1ab/prod/*/pets/7")), True),
    ("question mark is one character", policy(statement("Allow", ARN[:-1] + "?")), True),
    ("question mark is not two", policy(statement("Allow", ARN[:-2] + "?")), False),
    ("other API", policy(statement("Allow", "arn:aws:execute-api:eu-west-1:111122223333:other/*")), False),
    ("resource list", policy(statement("Allow", ["arn:aws:x", ARN])), True),
    ("single statement object", {"Version": "2012-10-17", "Statement": statement("Allow", ARN)}, True),
    ("explicit deny wins", policy(statement("Allow", "*"), statement("Deny", ARN)), False),
    ("deny elsewhere does not matter", policy(statement("Allow", "*"), statement("Deny", ARN + "/x")), True),
    ("action wildcard", policy(statement("Allow", ARN, action="execute-api:*")), True),
    ("action star", policy(statement("Allow", ARN, action="*")), True),
    ("actions are case-insensitive", policy(statement("Allow", ARN, action="Execute-API:invoke")), True),
    ("other action", policy(statement("Allow", ARN, action="execute-api:ManageConnections")), False),
    ("NotResource", policy({"Effect": "Allow", "Action": "execute-api:Invoke", "NotResource": ARN + "x"}), True),
    ("NotAction", policy({"Effect": "Allow", "NotAction": "s3:*", "Resource": ARN}), True),
    ("conditional allow never matches", policy(statement("Allow", ARN, Condition={"IpAddress": {}})), False),
    ("conditional deny always matches", policy(statement("Allow", ARN), statement("Deny", "x", Condition={})), False),
    ("resources are case-sensitive", policy(statement("Allow", ARN.upper())), False),
    ("element names in any case", {"version": "2012-10-17", "statement": [{"effect": "Allow", "action": "*", "resource": ARN}]}, True),
]


@pytest.mark.parametrize(("document", "allowed"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_policy_evaluation(document: dict[str, Any], allowed: bool) -> None:
    assert parse_policy(document).allows(ARN) is allowed


@pytest.mark.parametrize(
    "document",
    [
        None,
        "Allow",
        {},
        {"Statement": []},
        {"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Action": "*"}]},
        {"Statement": [{"Effect": "Allow", "Action": 1, "Resource": "*"}]},
        {"Statement": ["Allow everything"]},
    ],
)
def test_documents_that_are_not_policies(document: Any) -> None:
    with pytest.raises(PolicyError):
        parse_policy(document)


def test_route_arn_is_the_request_path_without_the_stage_and_leading_slash() -> None:
    request = make_request("DELETE", "/prod/pets/7")
    assert route_arn(request, make_route(request, "ANY /pets/{id}")) == (
        "arn:aws:execute-api:eu-west-1:111122223333:k3xq9zw1ab/prod/DELETE/pets/7"
    )
    default = make_request("GET", "/")
    assert route_arn(default, make_route(default, "$default", stage="$default")) == (
        "arn:aws:execute-api:eu-west-1:111122223333:k3xq9zw1ab/$default/GET/"
    )
