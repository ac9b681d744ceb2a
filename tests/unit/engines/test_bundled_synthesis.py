"""Real CPU synthesis with the bundled model: sanity, batching, speed, seeds, voices."""

from __future__ import annotations

import numpy as np
import pytest

from common.engines.base import SynthesisOptions
from common.engines.bundled import batching
from common.engines.bundled.melgan import HOP
from common.errors import ValidationError

TEXTS = ["今天天气很好，我们去公园散步吧。", "长江是中国最长的河流。", "你好。", "小明的书包里有很多好看的图画书。"]


def _check(engine, text, result):
    fe = engine.frontend(text)
    d = result.diagnostics
    assert result.sample_rate == engine.sample_rate == 22050
    assert result.audio.dtype == np.float32 and np.abs(result.audio).max() <= 1.0
    assert float(np.sqrt(np.mean(result.audio ** 2))) > batching.SILENCE_RMS
    assert d.stop_fired and d.split_into == 1
    assert batching.MIN_FRAMES_PER_SYLLABLE * fe.syllables <= d.frames
    assert d.frames <= batching.MAX_FRAMES_PER_SYLLABLE * fe.syllables + batching.FRAME_SLACK
    assert abs(len(result.audio) - d.frames * HOP) <= HOP


def test_engine_metadata(bundled_engine):
    ids = [v.id for v in bundled_engine.voices()]
    from common.engines.bundled.voices import DROPPED, VOICES

    assert bundled_engine.default_voice() in ids and len(ids) == len(VOICES)
    assert not {name.lower() for name in DROPPED} & set(ids)
    assert {e.id for e in bundled_engine.emotions()} >= {"neutral", "happy", "sad", "angry"}
    assert all(e.kind == "prosody" for e in bundled_engine.emotions())
    assert bundled_engine.max_chunk_chars == 40


def test_batch_of_several_texts(bundled_engine):
    results = bundled_engine.synthesize(TEXTS, SynthesisOptions(voice="aiyue", seed=7))
    assert len(results) == len(TEXTS)
    for text, result in zip(TEXTS, results):
        _check(bundled_engine, text, result)


@pytest.mark.parametrize("voice", ["aicheng", "biaobei"])
def test_other_voices(bundled_engine, voice):
    (result,) = bundled_engine.synthesize([TEXTS[1]], SynthesisOptions(voice=voice, seed=3))
    _check(bundled_engine, TEXTS[1], result)


def test_batched_matches_batch_of_one(bundled_engine):
    opts = SynthesisOptions(voice="aiyue", seed=11)
    batched = bundled_engine.synthesize(TEXTS[:3], opts)
    single = [bundled_engine.synthesize([t], opts)[0] for t in TEXTS[:3]]
    for a, b in zip(batched, single):
        assert abs(a.duration - b.duration) <= 0.05 * b.duration + 0.05


def test_speed_changes_duration(bundled_engine):
    text = [TEXTS[1]]
    base = bundled_engine.synthesize(text, SynthesisOptions(voice="aiyue", seed=5))[0].duration
    fast = bundled_engine.synthesize(text, SynthesisOptions(voice="aiyue", seed=5, speed=2.0))[0].duration
    slow = bundled_engine.synthesize(text, SynthesisOptions(voice="aiyue", seed=5, speed=0.5))[0].duration
    assert fast == pytest.approx(base / 2, rel=0.03)
    assert slow == pytest.approx(base * 2, rel=0.03)


def test_emotion_preset_keeps_length_rule(bundled_engine):
    (res,) = bundled_engine.synthesize([TEXTS[2]], SynthesisOptions(voice="aiyue", seed=5, emotion="happy"))
    assert res.duration == pytest.approx(res.diagnostics.frames * HOP / 22050 / 1.08, rel=0.03)


def test_seed_reproducibility(bundled_engine):
    a = bundled_engine.synthesize([TEXTS[2]], SynthesisOptions(voice="aiyue", seed=42))[0].audio
    b = bundled_engine.synthesize([TEXTS[2]], SynthesisOptions(voice="aiyue", seed=42))[0].audio
    c = bundled_engine.synthesize([TEXTS[2]], SynthesisOptions(voice="aiyue", seed=43))[0].audio
    assert len(a) == len(b) and np.allclose(a, b, atol=1e-5)
    assert len(a) != len(c) or not np.allclose(a, c, atol=1e-3)


def test_punctuation_only_text_gives_short_silence(bundled_engine):
    (res,) = bundled_engine.synthesize(["。"], SynthesisOptions(voice="aiyue", seed=1))
    assert 0 < res.duration < 0.5 and "no speakable text" in res.diagnostics.notes[0]


def test_unknown_voice_is_rejected(bundled_engine):
    with pytest.raises(ValidationError, match="voice"):
        bundled_engine.synthesize(["你好"], SynthesisOptions(voice="nobody"))


def test_rejected_item_is_retried_then_split_then_fails(bundled_engine, monkeypatch):
    from common.engines.bundled import engine as engine_mod
    from common.errors import SynthesisFailed

    real = batching.acoustic_problems
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        return ["forced failure"] if calls["n"] == 1 else real(*args, **kwargs)

    monkeypatch.setattr(engine_mod.batching, "acoustic_problems", flaky)
    (res,) = bundled_engine.synthesize(["你好。"], SynthesisOptions(voice="aiyue", seed=2))
    assert res.diagnostics.attempts == 2 and "forced failure" in res.diagnostics.notes[0]

    def whole_text_fails(syllables, *args, **kwargs):
        return ["forced failure"] if syllables > 6 else real(syllables, *args, **kwargs)

    monkeypatch.setattr(engine_mod.batching, "acoustic_problems", whole_text_fails)
    (res,) = bundled_engine.synthesize(["今天天气很好，我们去公园"], SynthesisOptions(voice="aiyue", seed=2))
    assert res.diagnostics.split_into >= 2 and any("split" in n for n in res.diagnostics.notes)

    monkeypatch.setattr(engine_mod.batching, "acoustic_problems", lambda *a, **k: ["forced failure"])
    with pytest.raises(SynthesisFailed, match="forced failure"):
        bundled_engine.synthesize(["你好。"], SynthesisOptions(voice="aiyue", seed=2))


def test_reduced_precision_path_matches_fp32(bundled_engine, monkeypatch):
    """The autocast code path (FP16 on CUDA) run here as bfloat16 autocast on the CPU: no
    dtype mismatches, stop still fires, and durations stay within a few percent of FP32."""
    import torch

    texts = ["今天天气很好。", "我们一起去公园散步吧，路上有很多花。"]
    reference = bundled_engine.synthesize(texts, SynthesisOptions(voice="aimei", seed=3))
    monkeypatch.setattr(bundled_engine, "_autocast", lambda device: torch.autocast("cpu", dtype=torch.bfloat16))
    reduced = bundled_engine.synthesize(texts, SynthesisOptions(voice="aimei", seed=3))
    for ref, out in zip(reference, reduced):
        assert out.audio.dtype == np.float32 and out.diagnostics.stop_fired
        assert abs(out.duration - ref.duration) <= 0.05 * ref.duration + 0.05
