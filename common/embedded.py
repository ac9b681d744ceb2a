"""The embedded default: run a whole job in this process, with local files only.

Same steps as the distributed path (``common.pipeline``): plan chunks, synthesize them in
groups, store each chunk under its key, merge them streaming into the output. The chunk
store is a temporary local directory and the "queue" is the ordered list of groups, worked
through in this process. No Redis, no S3, no Celery.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from common import audio
from common.config import Settings
from common.engines.base import Engine
from common.job_request import JobRequest
from common.pipeline import chunk_seed, merge_to_file, plan_chunks, synthesize_group, task_groups
from common.storage.local import LocalStorage

ProgressCallback = Callable[[int, int], None]
"""Called with (chunks done, chunks total) after every group."""


@dataclass
class EmbeddedResult:
    out_path: Path
    chunks: list[str]
    audio_seconds: float
    synth_seconds: float
    wall_seconds: float

    @property
    def rtf(self) -> float:
        """Real-time factor: wall seconds per second of audio."""
        return self.wall_seconds / self.audio_seconds if self.audio_seconds else float("inf")


def synthesize_to_file(request: JobRequest, out_path: Path, settings: Settings, engine: Engine,
                       progress: ProgressCallback | None = None) -> EmbeddedResult:
    """Synthesize ``request.text`` into ``out_path`` (format ``request.format``)."""
    started = time.perf_counter()
    chunks = plan_chunks(request.text, settings, engine.max_chunk_chars)
    synth_seconds = 0.0
    with tempfile.TemporaryDirectory(prefix="tingshu-embedded-") as workdir:
        storage = LocalStorage(Path(workdir))
        job_id = "embedded"
        done = 0
        for first, count in task_groups(len(chunks), settings.chunks_per_task):
            options = replace(request.options(), seed=chunk_seed(request.seed, first))
            infos = synthesize_group(engine, storage, job_id, first, chunks[first:first + count], options)
            synth_seconds += sum(i["synth_seconds"] for i in infos.values())
            done += count
            if progress:
                progress(done, len(chunks))
        out_path.parent.mkdir(parents=True, exist_ok=True)
        stats = merge_to_file(storage, job_id, len(chunks), out_path, request.format,
                              engine.sample_rate, settings.pause_ms)
    return EmbeddedResult(out_path=out_path, chunks=chunks, audio_seconds=stats.duration_seconds,
                          synth_seconds=synth_seconds, wall_seconds=time.perf_counter() - started)


def format_for_path(path: Path, default: str = "wav") -> str:
    """Output format from a file name's suffix (``book.mp3`` → ``mp3``)."""
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in audio.SUPPORTED_FORMATS else default
