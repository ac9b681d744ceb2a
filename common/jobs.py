"""The job record and its store in Redis (shaped after ``rq.job``).

A job is one Redis hash (``tingshu:job:<id>``) plus three companions built by the key helpers
below: the list of chunk texts, the set of finished chunk indices and a hash of per-chunk
facts (audio seconds, synthesis seconds, diagnostics). State changes and progress updates
race between worker processes, so they run as Lua scripts: a chunk finished twice (a task
redelivered after a killed worker) is counted once, and a job that already failed or was
canceled never goes back to ``running``.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Iterable, Sequence

import redis

from common.errors import InFlightLimitReached, InvalidJobOperation, JobNotFound


class JobStatus(str, Enum):
    """Lifecycle: ``queued → running → merging → succeeded | failed | canceled``."""

    QUEUED = "queued"
    RUNNING = "running"
    MERGING = "merging"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})
"""States a job never leaves."""

KEY_PREFIX = "tingshu:job:"
"""Namespace of every job key; all keys are built by the helpers below."""


def key_for(job_id: str) -> str:
    """The job hash key."""
    return f"{KEY_PREFIX}{job_id}"


def chunks_key(job_id: str) -> str:
    """List of chunk texts, in order."""
    return f"{key_for(job_id)}:chunks"


def done_key(job_id: str) -> str:
    """Set of indices of chunks whose audio is stored."""
    return f"{key_for(job_id)}:done"


def chunk_info_key(job_id: str) -> str:
    """Hash index → JSON facts about that chunk (durations, diagnostics)."""
    return f"{key_for(job_id)}:chunkinfo"


ACCOUNT_PREFIX = "tingshu:account:"
"""Namespace of per-account indexes."""


def accounts_key() -> str:
    """Set of accounts that have (or had) jobs, for periodic cleanup."""
    return f"{ACCOUNT_PREFIX}all"


def account_jobs_key(account: str) -> str:
    """Sorted set of the account's job ids, scored by creation time (listing)."""
    return f"{ACCOUNT_PREFIX}{account}:jobs"


def account_inflight_key(account: str) -> str:
    """Set of the account's job ids that are not final yet (in-flight limit)."""
    return f"{ACCOUNT_PREFIX}{account}:inflight"


STATE_INDEX_PREFIX = "tingshu:state:"
"""Namespace of the per-state indexes (``/metrics`` counts jobs by state from them)."""


def state_index_key(state: JobStatus | str) -> str:
    """Sorted set of the ids of jobs in ``state``, scored by when they entered it.

    Kept by ``create``, the transition scripts and ``delete``; final-state entries older than
    the job TTL belong to expired jobs and are pruned by ``common.metrics``.
    """
    return f"{STATE_INDEX_PREFIX}{JobStatus(state).value}"


def all_keys(job_id: str) -> list[str]:
    return [key_for(job_id), chunks_key(job_id), done_key(job_id), chunk_info_key(job_id)]


@dataclass
class Job:
    """One synthesis job as stored in Redis."""

    id: str
    state: JobStatus = JobStatus.QUEUED
    account: str = "default"
    queue: str = "bulk"
    webhook_url: str | None = None
    chunk_count: int = 0
    chunks_done: int = 0
    text_chars: int = 0
    engine: str = "bundled"
    voice: str = ""
    emotion: str = "neutral"
    speed: float = 1.0
    format: str = "wav"
    seed: int = 0
    chunks_per_task: int = 1
    sample_rate: int = 0
    created_at: float = 0.0
    started_at: float | None = None
    merge_started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    result_key: str | None = None
    result_bytes: int | None = None
    audio_seconds: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def is_final(self) -> bool:
        return self.state.is_final

    def to_redis(self) -> dict[str, str]:
        """Flatten to hash fields (None fields are left out)."""
        out: dict[str, str] = {}
        for name, value in asdict(self).items():
            if value is None:
                continue
            if name == "metadata":
                out[name] = json.dumps(value, ensure_ascii=False)
            elif isinstance(value, JobStatus):
                out[name] = value.value
            else:
                out[name] = str(value)
        return out

    @classmethod
    def from_redis(cls, raw: dict[str, str]) -> "Job":
        kwargs: dict[str, Any] = {}
        for name, f in cls.__dataclass_fields__.items():
            if name not in raw:
                continue
            value = raw[name]
            if name == "state":
                kwargs[name] = JobStatus(value)
            elif name == "metadata":
                kwargs[name] = json.loads(value)
            elif name in _INT_FIELDS:
                kwargs[name] = int(value)
            elif name in _FLOAT_FIELDS:
                kwargs[name] = float(value)
            else:
                kwargs[name] = value
        return cls(**kwargs)


_INT_FIELDS = {"chunk_count", "chunks_done", "text_chars", "seed", "chunks_per_task", "sample_rate", "result_bytes"}
_FLOAT_FIELDS = {"speed", "created_at", "started_at", "merge_started_at", "finished_at", "audio_seconds"}

# KEYS[1]=job hash, KEYS[2]=the account's in-flight set; ARGV[1]=new state, ARGV[2]=json
# list of allowed current states, ARGV[3]=json object of extra fields, ARGV[4]=job id,
# ARGV[5]="1" when the new state is final, ARGV[6]=state index key prefix, ARGV[7]=now.
# Returns the previous state, or an error.
_TRANSITION = """
local current = redis.call('HGET', KEYS[1], 'state')
if not current then return {err='missing'} end
local allowed = cjson.decode(ARGV[2])
local ok = false
for _, s in ipairs(allowed) do if s == current then ok = true end end
if not ok then return {err='state:' .. current} end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
local extra = cjson.decode(ARGV[3])
for k, v in pairs(extra) do redis.call('HSET', KEYS[1], k, v) end
if ARGV[5] == '1' then redis.call('SREM', KEYS[2], ARGV[4]) end
redis.call('ZREM', ARGV[6] .. current, ARGV[4])
redis.call('ZADD', ARGV[6] .. ARGV[1], ARGV[7], ARGV[4])
return current
"""

# KEYS: job hash, done set, chunk info hash, queued and running state indexes. ARGV[1]=now,
# then pairs (index, info json).
# Marks chunks done, counts them once, and moves queued → running. Returns chunks_done,
# or -1 when the job is already final (the caller should stop working on it).
_CHUNKS_DONE = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return -2 end
if state == 'failed' or state == 'canceled' or state == 'succeeded' then return -1 end
for i = 2, #ARGV, 2 do
  redis.call('SADD', KEYS[2], ARGV[i])
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
end
local done = redis.call('SCARD', KEYS[2])
redis.call('HSET', KEYS[1], 'chunks_done', done)
if state == 'queued' then
  redis.call('HSET', KEYS[1], 'state', 'running')
  redis.call('HSETNX', KEYS[1], 'started_at', ARGV[1])
  local id = redis.call('HGET', KEYS[1], 'id')
  redis.call('ZREM', KEYS[4], id)
  redis.call('ZADD', KEYS[5], ARGV[1], id)
end
return done
"""


# KEYS[1]=the account's in-flight set; ARGV[1]=job id, ARGV[2]=limit (0: none).
# Reserves an in-flight slot atomically; returns 0 when the account is at its limit.
_RESERVE = """
local limit = tonumber(ARGV[2])
if limit > 0 and redis.call('SCARD', KEYS[1]) >= limit then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
return 1
"""


class JobStore:
    """Create, read and update jobs in Redis.

    Args:
        connection: a ``redis.Redis`` created with ``decode_responses=True``.
        ttl_seconds: lifetime of a job's keys once it reaches a final state.
    """

    def __init__(self, connection: redis.Redis, ttl_seconds: int = 7 * 24 * 3600):
        self.connection = connection
        self.ttl_seconds = ttl_seconds
        self._transition = connection.register_script(_TRANSITION)
        self._chunks_done = connection.register_script(_CHUNKS_DONE)
        self._reserve = connection.register_script(_RESERVE)

    @classmethod
    def from_url(cls, url: str, ttl_seconds: int = 7 * 24 * 3600) -> "JobStore":
        return cls(redis.Redis.from_url(url, decode_responses=True), ttl_seconds)

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def create(self, job: Job, chunks: Sequence[str], max_in_flight: int = 0) -> Job:
        """Store a new job and its chunk texts atomically (MULTI).

        Args:
            max_in_flight: refuse when the account already has this many unfinished jobs
                (0: no limit); the check and the reservation are one atomic step.

        Raises:
            InFlightLimitReached: the account is at ``max_in_flight``.
        """
        if not chunks:
            raise ValueError("a job needs at least one chunk")
        if not self._reserve(keys=[account_inflight_key(job.account)], args=[job.id, max_in_flight]):
            raise InFlightLimitReached(job.account, max_in_flight)
        job.chunk_count = len(chunks)
        job.created_at = job.created_at or time.time()
        with self.connection.pipeline(transaction=True) as pipe:
            pipe.delete(*all_keys(job.id))
            pipe.hset(key_for(job.id), mapping=job.to_redis())
            for start in range(0, len(chunks), 1000):
                pipe.rpush(chunks_key(job.id), *chunks[start:start + 1000])
            pipe.zadd(account_jobs_key(job.account), {job.id: job.created_at})
            pipe.sadd(account_inflight_key(job.account), job.id)
            pipe.sadd(accounts_key(), job.account)
            pipe.zadd(state_index_key(job.state), {job.id: job.created_at})
            pipe.execute()
        return job

    def exists(self, job_id: str) -> bool:
        return bool(self.connection.exists(key_for(job_id)))

    def fetch(self, job_id: str) -> Job:
        """Load a job.

        Raises:
            JobNotFound: no such job (or it expired).
        """
        raw = self.connection.hgetall(key_for(job_id))
        if not raw:
            raise JobNotFound(job_id)
        return Job.from_redis(raw)

    def chunk_texts(self, job_id: str, first: int = 0, count: int | None = None) -> list[str]:
        """Texts of chunks ``first .. first+count-1`` (all when count is None)."""
        last = -1 if count is None else first + count - 1
        return self.connection.lrange(chunks_key(job_id), first, last)

    def done_indices(self, job_id: str) -> set[int]:
        return {int(i) for i in self.connection.smembers(done_key(job_id))}

    def chunk_infos(self, job_id: str) -> dict[int, dict[str, Any]]:
        raw = self.connection.hgetall(chunk_info_key(job_id))
        return {int(k): json.loads(v) for k, v in raw.items()}

    def mark_chunks_done(self, job_id: str, infos: dict[int, dict[str, Any]]) -> int:
        """Record finished chunks; idempotent per index.

        Returns:
            Chunks done so far, or -1 if the job is already final (stop working on it).

        Raises:
            JobNotFound: the job no longer exists.
        """
        args: list[Any] = [time.time()]
        for index, info in infos.items():
            args += [index, json.dumps(info)]
        keys = [key_for(job_id), done_key(job_id), chunk_info_key(job_id),
                state_index_key(JobStatus.QUEUED), state_index_key(JobStatus.RUNNING)]
        result = int(self._chunks_done(keys=keys, args=args))
        if result == -2:
            raise JobNotFound(job_id)
        return result

    def transition(self, job_id: str, to: JobStatus, allowed_from: Iterable[JobStatus], **fields: Any) -> JobStatus:
        """Atomically move a job to ``to`` if it is in one of ``allowed_from``.

        Returns:
            The previous state.

        Raises:
            JobNotFound: no such job.
            InvalidJobOperation: the job is in a state not in ``allowed_from``.
        """
        extra = {k: (v.value if isinstance(v, JobStatus) else str(v)) for k, v in fields.items() if v is not None}
        account = self.connection.hget(key_for(job_id), "account") or "default"
        try:
            previous = self._transition(
                keys=[key_for(job_id), account_inflight_key(account)],
                args=[to.value, json.dumps([s.value for s in allowed_from]), json.dumps(extra), job_id,
                      "1" if to.is_final else "0", STATE_INDEX_PREFIX, time.time()],
            )
        except redis.ResponseError as exc:
            message = str(exc)
            if "missing" in message:
                raise JobNotFound(job_id) from None
            raise InvalidJobOperation(f"job {job_id} cannot go to {to.value}: {message}") from None
        if to.is_final:
            self.expire(job_id)
        return JobStatus(previous)

    def fail(self, job_id: str, reason: str) -> bool:
        """Mark a job failed unless it is already final. Returns True if this call failed it."""
        try:
            self.transition(job_id, JobStatus.FAILED, [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.MERGING],
                            error=reason[:2000], finished_at=time.time())
        except (InvalidJobOperation, JobNotFound):
            return False
        return True

    def expire(self, job_id: str, ttl_seconds: int | None = None) -> None:
        """Give every key of the job a TTL (final jobs are kept ``ttl_seconds``)."""
        ttl = ttl_seconds or self.ttl_seconds
        with self.connection.pipeline(transaction=False) as pipe:
            for key in all_keys(job_id):
                pipe.expire(key, ttl)
            pipe.execute()

    def ttl(self, job_id: str) -> int | None:
        """Seconds until the job record expires, or None while it has no TTL."""
        value = self.connection.ttl(key_for(job_id))
        return value if value >= 0 else None

    def in_flight(self, account: str) -> int:
        """How many of the account's jobs are not final yet."""
        return int(self.connection.scard(account_inflight_key(account)))

    def delete(self, job_id: str) -> None:
        """Remove the job's keys and its entries in the account indexes."""
        account = self.connection.hget(key_for(job_id), "account") or "default"
        with self.connection.pipeline(transaction=True) as pipe:
            pipe.delete(*all_keys(job_id))
            pipe.zrem(account_jobs_key(account), job_id)
            pipe.srem(account_inflight_key(account), job_id)
            for state in JobStatus:
                pipe.zrem(state_index_key(state), job_id)
            pipe.execute()
