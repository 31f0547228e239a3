"""Rows for features stageway does not have yet: registered (so `--list` shows them), never printed.

When a feature lands, replace its `planned(...)` line with a module like proxy.py: start stageway on an API
with two routes to the same backend, the plain one and the featureful one, and measure them with
`measure_pair` (interleaved rounds, medians), as the "stageway" and "reference" of the row.
"""

from __future__ import annotations

from bench.scenarios import planned

planned(
    "featureful",
    "Featureful route (CORS, parameter mapping, throttling) vs a plain route",
    "to be set",
    "no scenario yet: route features (CORS, parameter mapping, throttling) were still landing",
)
planned(
    "jwt",
    "JWT-authorized route vs an open route",
    "to be set",
    "no scenario yet: JWT authorizers were still landing (needs a local issuer serving its JWKS)",
)
