"""A fast, deterministic test engine: one tone burst per character, no model.

It exists so pipeline tests and benchmarks can check ordering, durations and merging without
the cost of neural synthesis. Audio length is exactly ``SAMPLES_PER_CHAR`` samples per
character (divided by speed), and each chunk's pitch is derived from its text, so a chunk is
identifiable in the merged file. A text containing ``FAIL_MARKER`` raises, to test failure
paths, and ``TINGSHU_TONE_DELAY_PER_CHAR`` slows it down. It is never the default engine.
"""

from __future__ import annotations

import os
import time
import zlib
from typing import Sequence

import numpy as np

from common.config import Settings
from common.engines.base import Emotion, ItemDiagnostics, SynthesisOptions, SynthesisResult, Voice, validate_options
from common.errors import SynthesisFailed

SAMPLE_RATE = 16_000
SAMPLES_PER_CHAR = 1_600
"""0.1 s of audio per character at speed 1.0."""
FAIL_MARKER = "故障标记"
"""A chunk containing this string always fails (for failure-path tests; hanzi, so text
normalisation keeps it)."""
DELAY_ENV = "TINGSHU_TONE_DELAY_PER_CHAR"
"""Seconds the tone engine sleeps per character, to make jobs slow enough to interrupt."""


class ToneEngine:
    """Deterministic tone synthesizer implementing :class:`common.engines.base.Engine`."""

    name = "tone"
    sample_rate = SAMPLE_RATE
    max_chunk_chars = 200

    def __init__(self, delay_per_char: float = 0.0):
        self.delay_per_char = delay_per_char

    def voices(self) -> Sequence[Voice]:
        return [Voice("tone-a", "Tone A"), Voice("tone-b", "Tone B")]

    def emotions(self) -> Sequence[Emotion]:
        return [Emotion("neutral", "Neutral", "prosody")]

    def default_voice(self) -> str:
        return "tone-a"

    def warmup(self) -> None:
        return None

    def synthesize(self, texts: Sequence[str], options: SynthesisOptions) -> list[SynthesisResult]:
        validate_options(self, options)
        return [self._one(text, options) for text in texts]

    def _one(self, text: str, options: SynthesisOptions) -> SynthesisResult:
        if FAIL_MARKER in text:
            raise SynthesisFailed(f"tone engine refuses text containing {FAIL_MARKER}")
        started = time.perf_counter()
        if self.delay_per_char:
            time.sleep(self.delay_per_char * len(text))
        n = int(round(len(text) * SAMPLES_PER_CHAR / options.speed))
        freq = 200.0 + (zlib.crc32(text.encode("utf-8")) % 600)
        t = np.arange(n, dtype=np.float32) / SAMPLE_RATE
        audio = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
        diag = ItemDiagnostics(chars=len(text), frames=n // 256, acoustic_seconds=time.perf_counter() - started)
        return SynthesisResult(audio=audio, sample_rate=SAMPLE_RATE, diagnostics=diag)


def tone_frequency(text: str) -> float:
    """The pitch the tone engine uses for ``text`` (lets tests identify chunks)."""
    return 200.0 + (zlib.crc32(text.encode("utf-8")) % 600)


def load_engine(settings: Settings) -> ToneEngine:
    """Registry factory."""
    return ToneEngine(delay_per_char=float(os.environ.get(DELAY_ENV, "0") or 0))


def describe(settings: Settings):
    """Registry hook: engine facts without loading anything."""
    from common.engines.base import EngineInfo

    return EngineInfo.of(ToneEngine())
