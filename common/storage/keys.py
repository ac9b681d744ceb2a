"""Storage keys used by the pipeline; every key is built here and nowhere else."""

from __future__ import annotations

import re

_JOB_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_FORMAT_RE = re.compile(r"^[a-z0-9]{1,8}$")

JOBS_PREFIX = "jobs/"
"""Every object written for a job lives under ``jobs/<job_id>/``."""


def _check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not _JOB_ID_RE.match(job_id):
        raise ValueError(f"job id must match {_JOB_ID_RE.pattern}, not {job_id!r}")
    return job_id


def job_prefix(job_id: str) -> str:
    """``jobs/<id>/``: the prefix of every object belonging to one job.

    Raises:
        ValueError: ``job_id`` is not a plain identifier.
    """
    return f"{JOBS_PREFIX}{_check_job_id(job_id)}/"


def chunks_prefix(job_id: str) -> str:
    """``jobs/<id>/chunks/``: the prefix of a job's chunk audio."""
    return f"{job_prefix(job_id)}chunks/"


def chunk_key(job_id: str, index: int) -> str:
    """``jobs/<id>/chunks/<index:06d>.flac``: the audio of chunk ``index`` (0-based).

    Raises:
        ValueError: bad job id, or a negative index.
    """
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"chunk index must be an int >= 0, not {index!r}")
    return f"{chunks_prefix(job_id)}{index:06d}.flac"


def result_key(job_id: str, fmt: str) -> str:
    """``jobs/<id>/result.<fmt>``: the merged audio of a finished job.

    Raises:
        ValueError: bad job id, or ``fmt`` is not a short lower-case extension.
    """
    if not isinstance(fmt, str) or not _FORMAT_RE.match(fmt):
        raise ValueError(f"format must be a short lower-case extension, not {fmt!r}")
    return f"{job_prefix(job_id)}result.{fmt}"
