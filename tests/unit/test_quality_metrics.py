"""Text metrics of the speech-recognition quality gate (no model needed: always runs)."""

from __future__ import annotations

import numpy as np
import pytest

from common import quality
from common.quality import cer, edit_distance, hanzi, pinyin_er


def test_edit_distance():
    assert edit_distance("", "") == 0
    assert edit_distance("abc", "") == edit_distance("", "abc") == 3
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance(["ni", "hao"], ["ni", "hao", "ma"]) == 1


def test_hanzi_drops_punctuation_latin_digits_and_simplifies():
    assert hanzi("今天，天气 很好！OK 123。") == "今天天气很好"
    assert hanzi("這個說話聲音") == "这个说话声音"


def test_identical_and_punctuation_only_differences_score_zero():
    ref = "今天天气很好，我们去公园散步吧。"
    assert cer(ref, ref) == pinyin_er(ref, ref) == 0.0
    assert cer(ref, "今天天气很好,我们去公园散步吧") == 0.0
    assert pinyin_er(ref, "今天 天气很好 我们去公园散步吧!") == 0.0


def test_traditional_hypothesis_is_not_an_error():
    assert cer("这是一个测试，说话的声音很清楚。", "這是一個測試，說話的聲音很清楚。") == 0.0


def test_homophone_counts_for_cer_but_not_pinyin():
    ref, hyp = "请把桌子上的书递给我。", "请把桌子上的书地给我。"  # 递 dì / 地 dì
    assert cer(ref, hyp) == pytest.approx(1 / 10)
    assert pinyin_er(ref, hyp) == 0.0
    assert cer("他在家。", "她再家。") == pytest.approx(2 / 3)
    assert pinyin_er("他在家。", "她再家。") == 0.0


def test_substitution_insertion_deletion():
    ref = "妈妈在厨房里做晚饭"  # 9 characters / syllables
    assert cer(ref, "妈妈在厨房里做早饭") == pytest.approx(1 / 9)
    assert pinyin_er(ref, "妈妈在厨房里做早饭") == pytest.approx(1 / 9)
    assert cer(ref, "妈妈在厨房做晚饭") == pytest.approx(1 / 9)
    assert cer(ref, "妈妈正在厨房里做晚饭") == pytest.approx(1 / 9)
    assert cer(ref, "") == pinyin_er(ref, "") == 1.0
    assert cer(ref, "完全不同的一句话说了很久很久") > 1.0 - 1e-9


def test_empty_reference():
    assert cer("", "") == pinyin_er("。", "") == 0.0
    assert cer("OK", "你好") == pinyin_er("", "你好") == 1.0


def test_resample_keeps_a_tone_and_its_length():
    sr, freq = 22_050, 440.0
    t = np.arange(sr) / sr
    out = quality.resample(np.sin(2 * np.pi * freq * t).astype(np.float32), sr)
    assert out.dtype == np.float32 and len(out) == quality.WHISPER_SAMPLE_RATE
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) - freq) <= 1  # 1 Hz bins over one second
    assert np.max(np.abs(out)) == pytest.approx(1.0, abs=0.02)
    same = np.zeros(100, dtype=np.float32)
    assert quality.resample(same, 16_000) is not None and len(quality.resample(same, 16_000)) == 100


def test_whisper_model_dir_reports_missing_wheels(monkeypatch):
    monkeypatch.setattr(quality.importlib_util, "find_spec", lambda name: None)
    assert "pip install" in quality.available()
    with pytest.raises(quality.QualityUnavailable, match="faster_whisper"):
        quality.whisper_model_dir()
