"""Per-account request rate limit: a token bucket in Redis, updated by one Lua script.

The bucket holds up to ``rate_per_minute`` tokens and refills at ``rate_per_minute / 60``
tokens a second; each request takes one. The script reads the clock with ``TIME`` on the Redis
server, so API processes on different hosts share one clock, and the whole read-refill-take
step is atomic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import redis

from common.jobs import ACCOUNT_PREFIX


def bucket_key(account: str) -> str:
    """Hash ``{tokens, ts}``: the account's token bucket."""
    return f"{ACCOUNT_PREFIX}{account}:ratelimit"


# KEYS[1]=bucket; ARGV[1]=capacity, ARGV[2]=refill per second.
# Returns {allowed (1/0), tokens left, seconds until a token, seconds until full} (as strings).
_TAKE = """
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or cap
local ts = tonumber(b[2]) or now
tokens = math.min(cap, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', string.format('%.6f', now))
redis.call('EXPIRE', KEYS[1], math.ceil(cap / rate) + 1)
local wait = 0
if allowed == 0 then wait = (1 - tokens) / rate end
return {allowed, tostring(tokens), tostring(wait), tostring((cap - tokens) / rate)}
"""


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one request against the bucket."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: int
    """Whole seconds until a request would be allowed (0 when allowed)."""
    reset: int
    """Whole seconds until the bucket is full again."""


class RateLimiter:
    """Token buckets per account.

    Args:
        connection: a ``redis.Redis`` (any ``decode_responses``).
    """

    def __init__(self, connection: redis.Redis):
        self.connection = connection
        self._take = connection.register_script(_TAKE)

    def hit(self, account: str, rate_per_minute: int) -> RateDecision:
        """Take one token from the account's bucket.

        Args:
            rate_per_minute: bucket size and refill per minute; must be > 0.
        """
        if rate_per_minute <= 0:
            raise ValueError("rate_per_minute must be > 0")
        allowed, tokens, wait, full = self._take(keys=[bucket_key(account)],
                                                 args=[rate_per_minute, rate_per_minute / 60.0])
        return RateDecision(allowed=int(allowed) == 1, limit=rate_per_minute, remaining=int(float(tokens)),
                            retry_after=math.ceil(float(wait)), reset=math.ceil(float(full)))
