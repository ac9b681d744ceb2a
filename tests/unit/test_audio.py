"""Unit tests for common.audio: codecs and the streaming merge (no services needed)."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from common import audio
from common.audio import MergeStats, SUPPORTED_FORMATS, merge_streaming

RATE = 22050


def tone(freq: float, seconds: float, amplitude: float = 0.5, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_freq(x: np.ndarray, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


def test_supported_formats_match_libsndfile():
    assert {"wav", "flac"} <= set(SUPPORTED_FORMATS)
    for fmt in SUPPORTED_FORMATS:
        assert audio.CONTENT_TYPES[fmt].startswith("audio/")
    if "MP3" in sf.available_formats():
        assert "mp3" in SUPPORTED_FORMATS
    assert "ogg" in SUPPORTED_FORMATS  # Vorbis ships with every libsndfile soundfile bundles


@pytest.mark.parametrize("fmt", SUPPORTED_FORMATS)
def test_round_trip_bytes_and_file(fmt, tmp_path):
    x = tone(440, 1.0)
    data = audio.encode(x, RATE, fmt)
    y, rate = audio.decode(data)
    assert rate == RATE and y.dtype == np.float32 and y.ndim == 1
    path = tmp_path / f"a.{fmt}"
    audio.write_file(path, x, RATE, fmt)
    z, _ = audio.decode(path)
    if fmt in audio.LOSSLESS_FORMATS:
        assert len(y) == len(x) and len(z) == len(x)
        np.testing.assert_allclose(y, x, atol=1e-4)
        assert audio.duration_of(data) == pytest.approx(1.0, abs=1e-9)
    else:
        assert abs(len(y) - len(x)) <= 0.05 * RATE
        assert audio.duration_of(path) == pytest.approx(1.0, abs=0.05)
        n = min(len(x), len(y))
        assert np.corrcoef(x[:n], y[:n])[0, 1] > 0.9 or dominant_freq(y) == pytest.approx(440, abs=5)


def test_decode_downmixes_stereo(tmp_path):
    x = tone(440, 0.5)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([x, np.zeros_like(x)], axis=1), RATE, subtype="PCM_16")
    y, _ = audio.decode(path)
    assert y.ndim == 1
    np.testing.assert_allclose(y, x / 2, atol=1e-4)


def test_encode_clips_but_never_normalises():
    quiet = tone(300, 0.2, amplitude=0.1)
    y, _ = audio.decode(audio.encode(quiet, RATE, "wav"))
    assert np.abs(y).max() == pytest.approx(0.1, abs=1e-3)
    loud, _ = audio.decode(audio.encode(quiet * 20, RATE, "wav"))
    assert np.abs(loud).max() <= 1.0


def test_unknown_format_rejected():
    with pytest.raises(ValueError, match="unsupported audio format"):
        audio.encode(tone(440, 0.1), RATE, "aac")


def _chunks(n: int) -> list[np.ndarray]:
    """Distinct frequencies and lengths so each chunk can be recognised in the merge."""
    return [tone(300 + 150 * i, 0.3 + 0.05 * i, amplitude=0.2 + 0.05 * i) for i in range(n)]


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_merge_exact_frames_and_order(fmt, tmp_path):
    chunks = _chunks(5)
    pause_ms = 200
    pause = int(RATE * pause_ms / 1000)
    sources = [audio.encode(c, RATE, "flac") for c in chunks]
    out = tmp_path / f"merged.{fmt}"
    stats = merge_streaming(sources, out, fmt, RATE, pause_ms, block_frames=1000)
    expected = sum(len(c) for c in chunks) + (len(chunks) - 1) * pause
    assert stats == MergeStats(frames=expected, duration_seconds=expected / RATE, chunks=5)
    merged, rate = audio.decode(out)
    assert rate == RATE and len(merged) == expected
    assert audio.duration_of(out) == pytest.approx(expected / RATE)
    pos = 0
    for i, chunk in enumerate(chunks):
        segment = merged[pos:pos + len(chunk)]
        assert dominant_freq(segment) == pytest.approx(300 + 150 * i, abs=5)
        np.testing.assert_allclose(segment, chunk, atol=1e-3)  # no per-chunk normalisation
        pos += len(chunk)
        if i < len(chunks) - 1:
            assert np.abs(merged[pos:pos + pause]).max() == 0.0
            pos += pause
    assert pos == len(merged)  # no pause after the last chunk


@pytest.mark.parametrize("fmt", [f for f in SUPPORTED_FORMATS if f not in audio.LOSSLESS_FORMATS])
def test_merge_lossy_duration(fmt, tmp_path):
    chunks = _chunks(4)
    out = tmp_path / f"merged.{fmt}"
    stats = merge_streaming([audio.encode(c, RATE, "wav") for c in chunks], out, fmt, RATE, 250)
    expected = (sum(len(c) for c in chunks) + 3 * int(RATE * 0.25)) / RATE
    assert stats.duration_seconds == pytest.approx(expected)
    assert audio.duration_of(out) == pytest.approx(expected, abs=0.06)


def test_merge_accepts_paths_and_zero_pause(tmp_path):
    chunks = _chunks(3)
    paths = []
    for i, chunk in enumerate(chunks):
        paths.append(tmp_path / f"{i}.flac")
        audio.write_file(paths[-1], chunk, RATE, "flac")
    stats = merge_streaming(paths, tmp_path / "m.wav", "wav", RATE, 0)
    assert stats.frames == sum(len(c) for c in chunks)


def test_merge_calls_sources_lazily_one_at_a_time(tmp_path):
    chunks = _chunks(4)
    events: list[str] = []

    def source(i: int):
        def fetch() -> Path:
            events.append(f"call {i}")
            path = tmp_path / f"chunk{i}.flac"
            audio.write_file(path, chunks[i], RATE, "flac")
            return path
        return fetch

    def sources():
        for i in range(len(chunks)):
            events.append(f"next {i}")
            yield source(i)

    merge_streaming(sources(), tmp_path / "m.flac", "flac", RATE, 100)
    assert events == [e for i in range(4) for e in (f"next {i}", f"call {i}")]


def test_merge_releases_each_chunk_before_the_next(tmp_path):
    """A callable's returned buffer is no longer referenced once the next chunk is fetched."""
    data = audio.encode(tone(440, 0.2), RATE, "wav")
    alive: list[int] = []

    class Tracked(bytearray):
        count = 0

        def __init__(self, *args):
            super().__init__(*args)
            Tracked.count += 1

        def __del__(self):
            Tracked.count -= 1

    def fetch():
        gc.collect()
        alive.append(Tracked.count)
        return Tracked(data)

    merge_streaming([fetch] * 6, tmp_path / "m.wav", "wav", RATE, 50)
    assert alive == [0] * 6


def _merge_peak(n: int, tmp_path: Path) -> int:
    data = audio.encode(tone(440, 1.0), RATE, "wav")  # ~44 KB per chunk
    gc.collect()
    tracemalloc.start()
    try:
        merge_streaming((lambda: bytes(bytearray(data)) for _ in range(n)),
                        tmp_path / f"m{n}.wav", "wav", RATE, 100)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_merge_memory_does_not_grow_with_chunk_count(tmp_path):
    small = _merge_peak(10, tmp_path)
    large = _merge_peak(200, tmp_path)
    chunk_bytes = 2 * RATE + 44
    # Holding all 200 chunks would cost >= 8.8 MB; allow generous slack for allocator noise.
    assert large < small + 20 * chunk_bytes, (small, large)


def test_merge_rejects_sample_rate_mismatch_and_removes_output(tmp_path):
    good = audio.encode(tone(440, 0.2), RATE, "wav")
    bad = audio.encode(tone(440, 0.2, rate=16000), 16000, "wav")
    out = tmp_path / "m.wav"
    with pytest.raises(ValueError, match="sample rate 16000"):
        merge_streaming([good, bad], out, "wav", RATE, 100)
    assert not out.exists()


def test_merge_needs_a_source(tmp_path):
    with pytest.raises(ValueError, match="at least one source"):
        merge_streaming([], tmp_path / "m.wav", "wav", RATE, 100)
    assert not (tmp_path / "m.wav").exists()
