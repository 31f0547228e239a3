"""Authorization of data-plane requests, as AWS HTTP APIs do it (spec §7): JWT authorizers, Lambda
(REQUEST) authorizers and AWS_IAM (SigV4).

    plan = compile_authorizer(doc, region=region, account_id=account_id)   # once per deployment
    route_auth = compile_route_auth(route_doc, {plan.authorizer_id: plan})
    authorizers = Authorizers(invoker=runtime, credentials={"AKID": "secret"})
    result = await authorizers.authorize(route_auth, request, route)        # per request; raises 401/403/500

Pure pieces (`plan`, `policy`, `identity_sources`, most of `jwt` and `lambda_authorizer`) do no I/O;
`jwks` fetches keys and `authorizers` invokes functions and keeps the caches.
"""

from stageway.auth.authorizers import AuthorizerInvoker, Authorizers
from stageway.auth.plan import (
    OPEN_ROUTE,
    AuthorizerConfigError,
    AuthorizerPlan,
    JwtAuthorizerPlan,
    LambdaAuthorizerPlan,
    RouteAuth,
    authorizer_errors,
    compile_authorizer,
    compile_route_auth,
)
from stageway.auth.policy import route_arn
from stageway.auth.result import (
    NO_AUTH,
    AuthError,
    AuthForbidden,
    AuthorizerFailure,
    AuthResult,
    AuthUnauthorized,
)

__all__ = [
    "NO_AUTH",
    "OPEN_ROUTE",
    "AuthError",
    "AuthForbidden",
    "AuthResult",
    "AuthUnauthorized",
    "AuthorizerConfigError",
    "AuthorizerFailure",
    "AuthorizerInvoker",
    "AuthorizerPlan",
    "Authorizers",
    "JwtAuthorizerPlan",
    "LambdaAuthorizerPlan",
    "RouteAuth",
    "authorizer_errors",
    "compile_authorizer",
    "compile_route_auth",
    "route_arn",
]
