"""The trivial payload 2.0 handler of the Lambda row: the same body as bench/hello_asgi.py answers."""


def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": '{"message":"hello"}'}
