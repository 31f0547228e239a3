"""Payload 2.0: greets by path parameter or query string, and shows where the request came from."""

import os


def handler(event, context):
    name = (event.get("pathParameters") or {}).get("name") or (event.get("queryStringParameters") or {}).get(
        "name", "world"
    )
    print(f"greeting {name}")
    # No statusCode: API Gateway turns this object into a 200 application/json response.
    return {
        "message": f"{os.environ['GREETING']}, {name}!",
        "stage": event["requestContext"]["stage"],
        "environment": (event.get("stageVariables") or {}).get("environment"),
        "requestId": context.aws_request_id,
    }
