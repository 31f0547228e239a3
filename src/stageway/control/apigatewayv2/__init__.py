"""apigatewayv2, the control-plane API of HTTP APIs, as botocore's model describes it.

One module per resource (`apis`, `routes`, `integrations`, `authorizers`, `stages`, `deployments`,
`domains`, `tags`, `vpclinks`; `websocket` refuses WebSocket-only operations), `model` for the wire contract,
`router` to tie them to HTTP. Import `stageway.control.apigatewayv2.router.ApiGatewayV2`.
"""
