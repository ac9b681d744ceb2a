"""The engine interface every TTS backend implements, and the data it exchanges.

An engine is loaded once per process (see ``registry``) and synthesizes a *batch* of short
texts (chunks) of one voice at a time. Voice facts and per-call options are separate, as in
Piper: ``Voice``/``Emotion`` describe what an engine offers, ``SynthesisOptions`` what one call
asks for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

SPEED_MIN = 0.5
SPEED_MAX = 2.0


@dataclass(frozen=True)
class Voice:
    """A selectable speaker."""

    id: str
    name: str
    gender: str | None = None
    language: str = "zh"


@dataclass(frozen=True)
class Emotion:
    """An emotion an engine accepts.

    ``kind`` is ``"model"`` when the model itself conditions on the emotion, or ``"prosody"``
    when the engine imitates it with rate/pitch/energy presets (honest labelling for the API).
    """

    id: str
    label: str
    kind: str = "prosody"


@dataclass(frozen=True)
class SynthesisOptions:
    """Per-call knobs; validated by :func:`validate_options`."""

    voice: str
    emotion: str = "neutral"
    speed: float = 1.0
    seed: int | None = None


@dataclass
class ItemDiagnostics:
    """What happened while synthesizing one text of a batch."""

    chars: int = 0
    frames: int = 0
    stop_fired: bool = True
    attempts: int = 1
    split_into: int = 1
    acoustic_seconds: float = 0.0
    vocoder_seconds: float = 0.0
    device: str = "cpu"
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class SynthesisResult:
    """One synthesized text: mono float32 audio in [-1, 1] plus diagnostics."""

    audio: np.ndarray
    sample_rate: int
    diagnostics: ItemDiagnostics

    @property
    def duration(self) -> float:
        return len(self.audio) / float(self.sample_rate)


@runtime_checkable
class Engine(Protocol):
    """Protocol implemented by every engine.

    Attributes:
        name: registry name (``bundled``, ``sambert``, ``tone``).
        sample_rate: rate of every array returned by :meth:`synthesize`.
        max_chunk_chars: longest text one item may hold; the chunker honours it.
    """

    name: str
    sample_rate: int
    max_chunk_chars: int

    def voices(self) -> Sequence[Voice]: ...

    def emotions(self) -> Sequence[Emotion]: ...

    def default_voice(self) -> str: ...

    def warmup(self) -> None:
        """Load weights and front-end dictionaries so the first real call is fast."""

    def synthesize(self, texts: Sequence[str], options: SynthesisOptions) -> list[SynthesisResult]:
        """Synthesize each text; the result list has the same order and length as ``texts``.

        Raises:
            SynthesisFailed: a text could not be turned into acceptable audio.
        """


def validate_options(engine: Engine, options: SynthesisOptions) -> None:
    """Check voice, emotion and speed against what ``engine`` offers.

    Raises:
        ValidationError: naming the field (``voice``, ``emotion`` or ``speed``).
    """
    from common.errors import ValidationError

    voice_ids = [v.id for v in engine.voices()]
    if options.voice not in voice_ids:
        raise ValidationError("voice", f"unknown voice {options.voice!r}; choose one of {', '.join(voice_ids)}")
    emotion_ids = [e.id for e in engine.emotions()]
    if options.emotion not in emotion_ids:
        raise ValidationError("emotion", f"unknown emotion {options.emotion!r}; choose one of {', '.join(emotion_ids)}")
    if not (SPEED_MIN <= options.speed <= SPEED_MAX):
        raise ValidationError("speed", f"speed must be between {SPEED_MIN} and {SPEED_MAX}")


@dataclass(frozen=True)
class EngineInfo:
    """What an engine offers, known without loading its weights (API validation, listings)."""

    name: str
    sample_rate: int
    max_chunk_chars: int
    voices: tuple[Voice, ...]
    emotions: tuple[Emotion, ...]
    default_voice: str

    @classmethod
    def of(cls, engine: Engine) -> "EngineInfo":
        return cls(engine.name, engine.sample_rate, engine.max_chunk_chars, tuple(engine.voices()),
                   tuple(engine.emotions()), engine.default_voice())

    def voice_ids(self) -> list[str]:
        return [v.id for v in self.voices]

    def emotion_ids(self) -> list[str]:
        return [e.id for e in self.emotions]
