"""AWS's fixed quotas on JWT key sets (spec §7.1, §11.3), apart from the code that fetches them so that
reading them loads neither an HTTP client nor a JOSE library."""

FETCH_TIMEOUT_S = 1.5
"""JWKS and OpenID discovery endpoints must answer within 1,500 ms."""
MAX_JWKS_BYTES = 150_000
"""A JWKS answer is at most 150,000 bytes."""
KEYS_TTL_S = 2 * 3600.0
"""Keys are cached up to two hours (http-api-jwt-authorizer)."""
MIN_REFRESH_S = 10.0
"""An unknown `kid` refreshes the key set at most this often, so a flood of bad tokens cannot hammer the issuer."""
