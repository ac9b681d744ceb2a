"""The steps of a synthesis job, shared by the Celery tasks and the embedded CLI.

``plan_chunks`` turns submitted text into spoken chunks; ``task_groups`` cuts the chunk list
into the small groups of consecutive chunks that one task (and one engine batch) handles;
``synthesize_group`` synthesizes a group and stores each chunk under a deterministic key, so
a redelivered task overwrites rather than duplicates; ``merge_to_file`` streams the stored
chunks, in index order, into one output file. None of these know about Redis or Celery.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from common import audio
from common.config import Settings
from common.engines.base import Engine, SynthesisOptions
from common.errors import ValidationError
from common.storage import Storage
from common.storage.keys import chunk_key, result_key
from common.text.chunk import split_text
from common.text.normalize import normalize_text

CHUNK_FORMAT = "flac"
"""Chunks are stored losslessly; only the merged result uses the job's format."""


def chunk_limit(settings: Settings, engine_max_chars: int) -> int:
    """Characters per chunk: the configured target capped by the engine's own maximum."""
    return max(1, min(settings.chunk_chars, engine_max_chars))


def plan_chunks(text: str, settings: Settings, engine_max_chars: int) -> list[str]:
    """Normalise ``text`` for speech and split it into chunks the engine can handle.

    Raises:
        ValidationError: (field ``text``) nothing speakable is left after normalisation.
    """
    spoken = normalize_text(text)
    chunks = split_text(spoken, chunk_limit(settings, engine_max_chars))
    if not chunks:
        raise ValidationError("text", "text contains nothing to speak")
    return chunks


def task_groups(chunk_count: int, per_task: int) -> list[tuple[int, int]]:
    """``(first, count)`` pairs covering ``range(chunk_count)`` in groups of ``per_task``."""
    return [(first, min(per_task, chunk_count - first)) for first in range(0, chunk_count, per_task)]


def chunk_seed(job_seed: int, first: int) -> int:
    """Seed for the group starting at ``first``: a retried group sounds the same."""
    return (job_seed * 1_000_003 + first) % (2**31 - 1)


def synthesize_group(engine: Engine, storage: Storage, job_id: str, first: int,
                     texts: Sequence[str], options: SynthesisOptions) -> dict[int, dict]:
    """Synthesize chunks ``first..first+len(texts)-1`` and store them.

    Returns:
        index → facts about the chunk (audio seconds, synthesis seconds, diagnostics).
    """
    started = time.perf_counter()
    results = engine.synthesize(list(texts), options)
    synth_seconds = time.perf_counter() - started
    total_chars = sum(len(t) for t in texts) or 1
    infos: dict[int, dict] = {}
    for offset, result in enumerate(results):
        index = first + offset
        data = audio.encode(result.audio, result.sample_rate, CHUNK_FORMAT)
        storage.put_bytes(chunk_key(job_id, index), data, audio.CONTENT_TYPES[CHUNK_FORMAT])
        infos[index] = {
            "frames": int(len(result.audio)),
            "sample_rate": result.sample_rate,
            "audio_seconds": result.duration,
            # a batch is synthesized at once: share its time out by characters
            "synth_seconds": synth_seconds * len(texts[offset]) / total_chars,
            "diagnostics": result.diagnostics.to_dict(),
        }
    return infos


PREFETCH = 4
"""Chunks downloaded ahead of the merge (files on disk, never more than this many)."""


def _downloaded_chunks(storage: Storage, job_id: str, chunk_count: int, workdir: Path) -> Iterator[Path]:
    """Yield each chunk as a local file, in order, deleting it once consumed.

    Downloads run ``PREFETCH`` chunks ahead in a small thread pool, so merging a book is not
    a long series of round trips; at most ``PREFETCH + 1`` chunk files exist at a time.
    """

    def fetch(index: int) -> Path:
        key = chunk_key(job_id, index)
        local = storage.local_path(key)
        if local is not None:
            return local
        path = workdir / f"chunk-{index:06d}.{CHUNK_FORMAT}"
        storage.download_file(key, path)
        return path

    with ThreadPoolExecutor(max_workers=PREFETCH, thread_name_prefix="merge-prefetch") as pool:
        pending = deque(pool.submit(fetch, i) for i in range(min(PREFETCH, chunk_count)))
        for index in range(chunk_count):
            path = pending.popleft().result()
            if index + PREFETCH < chunk_count:
                pending.append(pool.submit(fetch, index + PREFETCH))
            try:
                yield path
            finally:
                if path.parent == workdir:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()


def merge_to_file(storage: Storage, job_id: str, chunk_count: int, out_path: Path, fmt: str,
                  sample_rate: int, pause_ms: int) -> audio.MergeStats:
    """Stream chunks ``0..chunk_count-1`` of ``job_id`` into ``out_path`` (constant memory)."""
    with tempfile.TemporaryDirectory(prefix="tingshu-merge-") as workdir:
        sources = _downloaded_chunks(storage, job_id, chunk_count, Path(workdir))
        return audio.merge_streaming(sources, out_path, fmt, sample_rate, pause_ms)


@dataclass
class MergedResult:
    key: str
    size: int
    stats: audio.MergeStats


def merge_and_upload(storage: Storage, job_id: str, chunk_count: int, fmt: str,
                     sample_rate: int, pause_ms: int) -> MergedResult:
    """Merge a job's chunks into a temporary file and upload it as the job's result."""
    fd, tmp_name = tempfile.mkstemp(prefix="tingshu-result-", suffix=f".{fmt}")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        stats = merge_to_file(storage, job_id, chunk_count, tmp, fmt, sample_rate, pause_ms)
        key = result_key(job_id, fmt)
        size = tmp.stat().st_size
        storage.put_file(key, tmp, audio.CONTENT_TYPES[fmt])
        return MergedResult(key=key, size=size, stats=stats)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
