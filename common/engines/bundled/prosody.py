"""Speed and emotion presets, done by signal processing (the model has no emotion input).

* **Speed** (0.5–2.0) is a time stretch of the mel spectrogram: linear interpolation along
  time to ``frames / speed`` frames before the vocoder. Pitch is unchanged because the
  vocoder regenerates the waveform from the stretched spectral envelope and harmonics.
* **Pitch shift** by ``s`` semitones (factor ``p = 2**(s/12)``): stretch the mel by ``p`` too,
  vocode, then resample the audio by ``1/p`` (FFT resampling), which restores the duration
  and raises/lowers the pitch. Formants move with it, so presets keep shifts small (≤ 2 st).
* **Energy** is a gain in dB, peak-limited to stay below full scale.

Emotions are therefore *prosody presets* (``Emotion.kind == "prosody"``), not acted emotions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.engines.base import Emotion


@dataclass(frozen=True)
class Preset:
    """Prosody applied on top of the requested speed."""

    id: str
    label: str
    rate: float = 1.0
    semitones: float = 0.0
    gain_db: float = 0.0


PRESETS: dict[str, Preset] = {p.id: p for p in (
    Preset("neutral", "Neutral"),
    Preset("happy", "Happy (faster, higher, brighter)", rate=1.08, semitones=1.5, gain_db=1.5),
    Preset("sad", "Sad (slower, lower, softer)", rate=0.88, semitones=-1.5, gain_db=-3.0),
    Preset("angry", "Angry (faster, slightly higher, louder)", rate=1.1, semitones=0.7, gain_db=3.0),
    Preset("calm", "Calm (slower, slightly lower, softer)", rate=0.93, semitones=-0.5, gain_db=-1.5),
)}
STRETCH_MIN, STRETCH_MAX = 0.4, 2.5


def emotions() -> list[Emotion]:
    """Offered emotions, all ``kind="prosody"``."""
    return [Emotion(p.id, p.label, "prosody") for p in PRESETS.values()]


def mel_frames_for(frames: int, speed: float, preset: Preset) -> int:
    """Number of mel frames fed to the vocoder for ``frames`` model frames."""
    rate = min(max(speed * preset.rate, STRETCH_MIN), STRETCH_MAX)
    pitch = 2.0 ** (preset.semitones / 12.0)
    return max(1, int(round(frames * pitch / rate)))


def stretch_mel(mel, n_frames: int):
    """Linear time interpolation of a (80, T) torch mel to ``n_frames`` frames."""
    import torch.nn.functional as F

    if n_frames == mel.size(-1):
        return mel
    return F.interpolate(mel[None], size=n_frames, mode="linear", align_corners=True)[0]


def resample(audio: np.ndarray, n_out: int) -> np.ndarray:
    """Band-limited (FFT) resampling of a whole signal to ``n_out`` samples."""
    n = len(audio)
    if n_out == n or n == 0:
        return audio
    spec = np.fft.rfft(audio)
    keep = min(len(spec), n_out // 2 + 1)
    out_spec = np.zeros(n_out // 2 + 1, dtype=spec.dtype)
    out_spec[:keep] = spec[:keep]
    return (np.fft.irfft(out_spec, n_out) * (n_out / n)).astype(np.float32)


def finish_audio(audio: np.ndarray, target_len: int, preset: Preset) -> np.ndarray:
    """Apply the pitch resampling (to ``target_len`` samples) and the gain, peak-limited."""
    if preset.semitones:
        audio = resample(audio, target_len)
    if preset.gain_db:
        audio = audio * (10.0 ** (preset.gain_db / 20.0))
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak > 0.98:
        audio = audio * (0.98 / peak)
    return np.asarray(audio, dtype=np.float32)
