"""`${stageVariables.name}` in integration URIs and function names (spec §2.3)."""

from __future__ import annotations

import re

STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")


def substitute_stage_variables(template: str, stage_variables: dict[str, str]) -> str:
    """Replace each `${stageVariables.x}`; an undefined variable becomes "" as AWS leaves it empty."""
    return STAGE_VARIABLE.sub(lambda match: stage_variables.get(match.group(1), ""), template)
