"""Function documents (Lambda-shaped, as the store keeps them) → the local runtime's `FunctionConfig`s."""

from __future__ import annotations

from pathlib import Path

from stageway.functions.config import FunctionConfig
from stageway.store.base import Document


def function_config(doc: Document, *, region: str, account_id: str) -> FunctionConfig | None:
    """The runtime's view of a stored function; None when it has no local code (a remote-only entry)."""
    local = doc.get("stageway") or {}
    code_dir = local.get("codeDirectory")
    if not code_dir:
        return None
    return FunctionConfig(
        name=doc["FunctionName"],
        handler=doc["Handler"],
        code_dir=Path(code_dir),
        runtime=doc.get("Runtime", "python3.12"),
        environment=dict((doc.get("Environment") or {}).get("Variables") or {}),
        timeout_s=float(doc.get("Timeout", 3)),
        memory_mb=int(doc.get("MemorySize", 128)),
        reserved_concurrency=doc.get("ReservedConcurrentExecutions"),
        region=region,
        account_id=account_id,
    )
