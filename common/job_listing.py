"""Reading jobs by account: cursor-paginated listing (newest first) and expired-job discovery.

Every account has a sorted set of its job ids scored by creation time. Job hashes expire on
their own (``JobStore.expire``); their ids linger in the index until the periodic cleanup
finds them here, deletes their stored audio and drops the ids.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass

from common.errors import ValidationError
from common.jobs import Job, JobStatus, JobStore, account_jobs_key, accounts_key, key_for

MAX_PAGE = 200
"""Largest page a listing returns."""
_SCAN_BATCH = 200


@dataclass
class JobPage:
    jobs: list[Job]
    next_cursor: str | None


def encode_cursor(score: float) -> str:
    return base64.urlsafe_b64encode(repr(score).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> float:
    """Raises: ValidationError (field ``cursor``) for anything we did not hand out."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        score = float(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeError):
        score = math.nan
    if not math.isfinite(score):  # "nan" would reach Redis as a range bound and fail there
        raise ValidationError("cursor", "invalid cursor; use the next_cursor of a previous page")
    return score


def list_jobs(store: JobStore, account: str, state: JobStatus | None = None, cursor: str | None = None,
              limit: int = 50) -> JobPage:
    """The account's jobs, newest first, optionally only those in ``state``.

    Jobs created in the same microsecond as a page boundary may be skipped (scores are
    creation times); ids of expired jobs are skipped.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError("limit", f"limit must be between 1 and {MAX_PAGE}")
    upper = f"({decode_cursor(cursor)}" if cursor else "+inf"
    found: list[Job] = []
    last_score: float | None = None
    while len(found) < limit:
        batch = store.connection.zrevrangebyscore(account_jobs_key(account), upper, "-inf",
                                                  start=0, num=_SCAN_BATCH, withscores=True)
        if not batch:
            return JobPage(found, None)
        with store.connection.pipeline(transaction=False) as pipe:
            for job_id, _score in batch:
                pipe.hgetall(key_for(job_id))
            raws = pipe.execute()
        for (job_id, score), raw in zip(batch, raws):
            last_score = score
            if raw:
                job = Job.from_redis(raw)
                if state is None or job.state is state:
                    found.append(job)
                    if len(found) == limit:
                        break
        upper = f"({last_score}"
    more = store.connection.zcount(account_jobs_key(account), "-inf", upper)
    return JobPage(found, encode_cursor(last_score) if more and last_score is not None else None)


def expired_job_ids(store: JobStore, account: str) -> list[str]:
    """Ids still indexed for ``account`` whose job record has expired."""
    expired: list[str] = []
    offset = 0
    while True:
        ids = store.connection.zrange(account_jobs_key(account), offset, offset + _SCAN_BATCH - 1)
        if not ids:
            return expired
        with store.connection.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.exists(key_for(job_id))
            alive = pipe.execute()
        expired += [job_id for job_id, exists in zip(ids, alive) if not exists]
        offset += _SCAN_BATCH


def forget(store: JobStore, account: str, job_ids: list[str]) -> None:
    """Drop ids from the account's index."""
    if job_ids:
        store.connection.zrem(account_jobs_key(account), *job_ids)


def accounts(store: JobStore) -> list[str]:
    return sorted(store.connection.smembers(accounts_key()))
