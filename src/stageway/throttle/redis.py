"""Token buckets in Redis, so that several gateway nodes share one budget (`--throttle redis://...`).

One Lua script per request refills, checks and takes from every bucket atomically, using the Redis
server's clock (`TIME`) so that nodes with drifting clocks still agree; the caller's `now` is not used.
Each bucket is a hash `{tokens, updated}` that expires once it would be full again, since a missing
bucket counts as full.

Needs the `redis` package (asyncio client, redis>=5).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import redis.asyncio
from redis.exceptions import RedisError

from stageway.core.throttle import ThrottleLimit

log = logging.getLogger("stageway.throttle")

# KEYS: the buckets; ARGV: rate and burst of each, in order. Returns 1 (admitted) or 0 (throttled).
# Same arithmetic as stageway.core.throttle.take_all; a refused request writes nothing, since a
# bucket's state at any later time follows from the stored (tokens, updated).
ADMIT_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local levels = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', key, 'tokens', 'updated')
  local tokens = tonumber(state[1])
  local updated = tonumber(state[2])
  if tokens == nil or updated == nil then
    tokens = burst
    updated = now
  end
  if tokens > burst then
    tokens = burst
  end
  if now > updated then
    tokens = math.min(burst, tokens + (now - updated) * rate)
    updated = now
  end
  if tokens < 0.999999999 then
    return 0
  end
  levels[i] = {math.max(0, tokens - 1), updated}
end
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  redis.call('HSET', key, 'tokens', string.format('%.17g', levels[i][1]),
             'updated', string.format('%.17g', levels[i][2]))
  local ttl = 86400
  if rate > 0 then
    ttl = math.min(ttl, math.ceil(burst / rate) + 1)
  end
  redis.call('EXPIRE', key, ttl)
end
return 1
"""

# One hash tag for every key: a Redis Cluster keeps them in one slot, as a multi-key script needs.
DEFAULT_PREFIX = "{stageway-throttle}:"
_WARN_EVERY_S = 10.0


class RedisThrottler:
    """Buckets shared through Redis. If Redis cannot be reached the request is admitted (the gateway
    keeps serving without limits rather than failing every request) and a warning is logged."""

    def __init__(self, client: redis.asyncio.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(ADMIT_SCRIPT)
        self._last_warning = float("-inf")

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX) -> RedisThrottler:
        return cls(redis.asyncio.Redis.from_url(url), prefix=prefix)

    def admit_now(self, limits: Sequence[ThrottleLimit], now: float) -> bool | None:
        return None  # the buckets are in Redis: only `admit` can answer

    async def admit(self, limits: Sequence[ThrottleLimit], now: float) -> bool:
        keys = [self.prefix + limit.key for limit in limits]
        args: list[str] = []
        for limit in limits:
            args.append(repr(float(limit.rate)))
            args.append(str(int(limit.burst)))
        try:
            result = await self._script(keys=keys, args=args)
        except (RedisError, OSError) as error:
            clock = time.monotonic()
            if clock - self._last_warning >= _WARN_EVERY_S:
                self._last_warning = clock
                log.warning("throttle back end unavailable, admitting requests unthrottled: %s", error)
            return True
        return int(result) == 1

    async def close(self) -> None:
        await self.client.aclose()
