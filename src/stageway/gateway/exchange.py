"""One request and how the gateway answered it: what the listener writes back, and what access logs and
metrics read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from stageway.core.context_vars import ContextVariables, RequestFacts
from stageway.core.http import GatewayResponse, IncomingRequest, RouteContext

if TYPE_CHECKING:  # the plan module imports what is built on this one
    from stageway.gateway.plan import StagePlan


@dataclass(slots=True)
class Exchange:
    """One request and how it was answered."""

    request: IncomingRequest
    response: GatewayResponse
    route: RouteContext | None = None
    stage: StagePlan | None = None
    """The stage that took the request (None: no API or stage, so no stage access log, as on AWS)."""
    integration_status: int | None = None
    integration_latency_ms: float | None = None
    integration_request_id: str = ""
    error_message: str = ""
    integration_error: str = ""
    context: ContextVariables | None = None
    """The `$context` view, once something needed it (parameter mapping); access logs reuse it."""
    facts: RequestFacts | None = None
    """What the authorizer learned (for `$context.authorizer.*` and `$context.identity.*`); None: nothing."""

    @property
    def detailed_metrics(self) -> bool:
        return self.stage is not None and self.stage.detailed_metrics
