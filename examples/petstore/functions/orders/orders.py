"""Payload 1.0: a tiny in-memory order service (state lives as long as the warm worker)."""

import base64
import json

ORDERS: dict[str, dict] = {}


def _json(status: int, value: object) -> dict:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(value)}


def handler(event, context):
    order_id = event["pathParameters"]["orderId"]
    if event["httpMethod"] == "PUT":
        body = event["body"] or "{}"
        # API Gateway base64-encodes bodies whose content type is not text (curl -d sends form encoding).
        if event["isBase64Encoded"]:
            body = base64.b64decode(body).decode()
        try:
            ORDERS[order_id] = json.loads(body)
        except json.JSONDecodeError:
            return _json(400, {"message": "the order must be JSON"})
        return _json(201, ORDERS[order_id])
    if order_id not in ORDERS:
        return _json(404, {"message": "no such order"})
    return _json(200, ORDERS[order_id])
