"""The ModelScope Sambert adapter with a stand-in pipeline object (the real model is not
installed here; see the README)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from common.config import Settings
from common.engines import sambert
from common.engines.base import SynthesisOptions
from common.errors import EngineUnavailable, SynthesisFailed, ValidationError


class StandInPipeline:
    """Records calls and answers like ModelScope: {'output_wav': WAV bytes}."""

    def __init__(self, rate: int = 16000, seconds: float = 0.5):
        self.calls: list[dict] = []
        self.rate, self.seconds = rate, seconds

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        tone = 0.2 * np.sin(np.linspace(0, 2 * np.pi * 200 * self.seconds, int(self.rate * self.seconds)))
        buffer = io.BytesIO()
        sf.write(buffer, tone.astype(np.float32), self.rate, format="WAV", subtype="PCM_16")
        return {"output_wav": buffer.getvalue()}


def make_engine(tmp_path, stand_in):
    settings = Settings().replace(sambert_model=str(tmp_path), device="cpu")
    return sambert.load_engine(settings, pipeline_factory=lambda model_dir, device: stand_in)


def test_request_is_ssml_with_voice_and_escaped_text(tmp_path):
    stand_in = StandInPipeline()
    engine = make_engine(tmp_path, stand_in)
    engine.synthesize(["A<B & 你好"], SynthesisOptions("zhiyan_emo", "sad"))
    call = stand_in.calls[0]
    assert call["voice"] == "zhiyan_emo"
    assert call["input"] == '<speak><emotion category="sad" intensity="1.00">A&lt;B &amp; 你好</emotion></speak>'


def test_output_decoded_to_float32_16k_per_item_and_speed_changes_duration(tmp_path):
    engine = make_engine(tmp_path, StandInPipeline(seconds=1.0))
    normal, fast = (engine.synthesize(["一", "二"], SynthesisOptions("zhitian_emo", speed=s)) for s in (1.0, 2.0))
    assert len(normal) == 2 and all(r.audio.dtype == np.float32 and r.sample_rate == 16000 for r in normal)
    assert abs(normal[0].duration - 1.0) < 0.01
    assert abs(fast[0].duration - 0.5) < 0.01


def test_wrong_rate_or_empty_output_fails(tmp_path):
    with pytest.raises(SynthesisFailed):
        make_engine(tmp_path, StandInPipeline(rate=22050)).synthesize(["一"], SynthesisOptions("zhitian_emo"))
    with pytest.raises(SynthesisFailed):
        sambert.decode_output({})


def test_emotions_are_real_model_emotions_and_validated(tmp_path):
    engine = make_engine(tmp_path, StandInPipeline())
    assert {e.kind for e in engine.emotions()} == {"model"}
    with pytest.raises(ValidationError) as err:
        engine.synthesize(["一"], SynthesisOptions("zhitian_emo", "sleepy"))
    assert err.value.field == "emotion"


def test_missing_model_fails_at_load_with_install_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(EngineUnavailable, match="modelscope download"):
        sambert.load_engine(Settings().replace(sambert_model="damo/not-here"))


def test_missing_extra_fails_with_install_hint(tmp_path):
    pytest.importorskip("torch")
    try:
        import modelscope  # noqa: F401
    except ImportError:
        with pytest.raises(EngineUnavailable, match="tingshu\\[sambert\\]"):
            sambert.load_engine(Settings().replace(sambert_model=str(tmp_path)))
    else:
        pytest.skip("modelscope is installed here")


def test_describe_needs_no_modelscope():
    info = sambert.describe(Settings())
    assert info.default_voice == "zhitian_emo" and info.sample_rate == 16000
