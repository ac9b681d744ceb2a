"""Change speaking rate without changing pitch: WSOLA time-scale modification in numpy.

Waveform-Similarity Overlap-Add: output frames are laid out at a fixed hop; each input frame
is taken near its nominal position, shifted by up to ``tolerance`` samples to best continue
the previous frame (cross-correlation), and overlap-added with a Hann window. Used by engines
that produce only a waveform (the bundled engine stretches its mel instead).
"""

from __future__ import annotations

import numpy as np


def time_stretch(audio: np.ndarray, speed: float, sample_rate: int) -> np.ndarray:
    """Return ``audio`` played ``speed`` times faster (0.5 → twice as long), same pitch.

    Args:
        audio: mono float32 samples.
        speed: rate factor, > 0.
        sample_rate: used to size the analysis frame (~25 ms) and search range (~5 ms).
    """
    if speed <= 0:
        raise ValueError("speed must be > 0")
    audio = np.asarray(audio, dtype=np.float32)
    if abs(speed - 1.0) < 1e-3 or len(audio) == 0:
        return audio.copy()
    frame = max(64, int(0.025 * sample_rate)) // 2 * 2
    hop = frame // 2
    tolerance = max(8, int(0.005 * sample_rate))
    window = np.hanning(frame).astype(np.float32)
    out_len = int(round(len(audio) / speed))
    padded = np.concatenate([np.zeros(tolerance, np.float32), audio, np.zeros(frame + 2 * tolerance, np.float32)])
    out = np.zeros(out_len + frame, np.float32)
    norm = np.zeros(out_len + frame, np.float32)
    previous_tail = None
    for out_pos in range(0, out_len, hop):
        nominal = int(out_pos * speed) + tolerance
        if previous_tail is None:
            start = nominal
        else:
            lo, hi = nominal - tolerance, nominal + tolerance
            region = padded[lo:hi + hop]
            corr = np.correlate(region, previous_tail, mode="valid")
            start = lo + int(np.argmax(corr)) if len(corr) else nominal
        segment = padded[start:start + frame]
        if len(segment) < frame:
            segment = np.pad(segment, (0, frame - len(segment)))
        out[out_pos:out_pos + frame] += segment * window
        norm[out_pos:out_pos + frame] += window
        previous_tail = padded[start + hop:start + hop + hop]
    norm[norm < 1e-3] = 1.0
    return (out / norm)[:out_len]
