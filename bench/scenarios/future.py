"""Rows for features stageway does not have yet: registered (so `--list` shows them), never printed.

None at the moment: the featureful route (featureful.py) and the JWT route (jwt_route.py) were planned here
until their features landed. To plan one, register it here with
`planned(key, title, target, reason)` (from bench.scenarios); when the feature lands, replace that line with
a module like proxy.py: start stageway on an API with the two routes to compare, measure them with
`measure_pair` (interleaved rounds, medians) as the "stageway" and "reference" of the row.
"""

from __future__ import annotations
