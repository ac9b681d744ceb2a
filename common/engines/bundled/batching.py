"""Helpers for the bundled engine: token-budget batch groups, quality checks, text splitting.

Batches are grouped by a *symbol budget* (the sum of padded input lengths) rather than a fixed
count, after sorting by length so that items in a batch finish at similar steps. The quality
checks compare an item's decoder frames with its syllable count (band calibrated on this
model: about 19–20 frames per syllable at normal speed) and look at the audio level.
"""

from __future__ import annotations

import re
from typing import Sequence, TypeVar

import numpy as np

T = TypeVar("T")

FRAMES_PER_SYLLABLE = 19.5
"""Measured mean decoder frames per spoken syllable (22,050 Hz, hop 256)."""
MIN_FRAMES_PER_SYLLABLE = 9.0
MAX_FRAMES_PER_SYLLABLE = 34.0
FRAME_SLACK = 30
"""Extra frames allowed on top of the band (leading/trailing silence, final punctuation)."""
SILENCE_RMS = 0.005
CLIP_LEVEL, CLIP_FRACTION = 0.99, 0.005

_SPLIT_PUNCT = "，。！？；：、,.!?;:…—"
_ALNUM = re.compile(r"[A-Za-z0-9０-９Ａ-Ｚａ-ｚ.%]")


def max_steps_for(syllables: int, hard_limit: int) -> int:
    """Decoder step limit for an item: the top of the band, capped by the model's limit."""
    return int(min(hard_limit, MAX_FRAMES_PER_SYLLABLE * max(1, syllables) + FRAME_SLACK))


def acoustic_problems(syllables: int, frames: int, stop_fired: bool, attention_max: int, last_spoken: int) -> list[str]:
    """Reasons to reject a decoder output (empty when it looks complete).

    ``attention_max`` must reach ``last_spoken`` (the first symbol of the last syllable),
    otherwise the stop token fired before the end of the text: truncated audio.
    """
    problems = []
    if not stop_fired:
        problems.append(f"stop token not fired within {frames} frames")
    lo = MIN_FRAMES_PER_SYLLABLE * syllables
    hi = MAX_FRAMES_PER_SYLLABLE * syllables + FRAME_SLACK
    if frames < lo or frames > hi:
        problems.append(f"{frames} frames for {syllables} syllables outside [{lo:.0f}, {hi:.0f}]")
    if attention_max < last_spoken:
        problems.append(f"attention stopped at symbol {attention_max} before the last syllable at {last_spoken} "
                        "(truncated)")
    return problems


def audio_problems(audio: np.ndarray) -> list[str]:
    """Reasons to reject vocoded audio: near silence or clipping."""
    if len(audio) == 0:
        return ["empty audio"]
    problems = []
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    if rms < SILENCE_RMS:
        problems.append(f"near-silent audio (rms {rms:.4f})")
    clipped = float(np.mean(np.abs(audio) >= CLIP_LEVEL))
    if clipped > CLIP_FRACTION:
        problems.append(f"clipping ({clipped:.1%} of samples at full scale)")
    return problems


def token_batches(items: Sequence[T], lengths: Sequence[int], budget: int, max_items: int) -> list[list[T]]:
    """Sort by length (longest first) and group so that ``len(batch) * max_len <= budget``."""
    order = sorted(range(len(items)), key=lambda i: -lengths[i])
    batches: list[list[T]] = []
    current: list[int] = []
    for i in order:
        longest = lengths[current[0]] if current else lengths[i]
        if current and ((len(current) + 1) * longest > budget or len(current) >= max_items):
            batches.append([items[j] for j in current])
            current = []
        current.append(i)
    if current:
        batches.append([items[j] for j in current])
    return batches


def split_text(text: str) -> list[str]:
    """Split a text in two near its middle: at punctuation if possible, else at a word
    boundary (jieba), never inside a run of Latin letters or digits. Returns ``[text]`` if
    no split point exists."""
    stripped = text.strip()
    if len(stripped) < 4:
        return [stripped]
    mid = len(stripped) / 2
    cuts = [i + 1 for i, c in enumerate(stripped[:-1]) if c in _SPLIT_PUNCT and 1 <= i + 1 < len(stripped) - 1]
    cuts = [c for c in cuts if min(c, len(stripped) - c) >= 2]
    if not cuts:
        import jieba

        pos = 0
        for word in jieba.lcut(stripped):
            pos += len(word)
            if 0 < pos < len(stripped):
                cuts.append(pos)
        cuts = [c for c in cuts if not (_ALNUM.match(stripped[c - 1]) and _ALNUM.match(stripped[c]))]
    if not cuts:
        return [stripped]
    cut = min(cuts, key=lambda c: abs(c - mid))
    parts = [stripped[:cut].strip(), stripped[cut:].strip()]
    return [p for p in parts if p]
