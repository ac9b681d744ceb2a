"""WSOLA time stretch: duration scales with 1/speed, pitch stays."""

import numpy as np
import pytest

from common.stretch import time_stretch


@pytest.mark.parametrize("speed", [0.5, 0.8, 1.25, 2.0])
def test_duration_scales_and_pitch_is_kept(speed):
    rate = 16000
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 330 * t).astype(np.float32)
    out = time_stretch(tone, speed, rate)
    assert len(out) == round(rate / speed)
    peak = np.fft.rfftfreq(len(out), 1 / rate)[np.argmax(np.abs(np.fft.rfft(out)))]
    assert abs(peak - 330) < 3


def test_identity_and_bad_speed():
    x = np.ones(100, np.float32)
    assert np.array_equal(time_stretch(x, 1.0, 16000), x)
    with pytest.raises(ValueError):
        time_stretch(x, 0, 16000)
