"""Audio encoding, decoding and the streaming merge of chunk audio into one result file.

Formats are written with libsndfile (through ``soundfile``): WAV and FLAC as 16-bit PCM, MP3
as MPEG Layer III (libsndfile >= 1.1) and OGG as Vorbis. All audio is mono float32 in
``[-1, 1]``. No loudness normalisation happens per chunk (per-sentence peak normalisation, as
Piper does by default, makes loudness jump between sentences); the merge only clips to
``[-1, 1]`` as a fixed safety.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Union

import numpy as np
import soundfile as sf

_FORMAT_SPECS: dict[str, tuple[str, str]] = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
    "ogg": ("OGG", "VORBIS"),
}
"""Our format name -> (libsndfile major format, subtype)."""

CONTENT_TYPES: dict[str, str] = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
}
"""HTTP content type of each output format."""

BLOCK_FRAMES = 16384
"""Frames read and written per block while merging (~0.7 s at 22.05 kHz)."""

LOSSLESS_FORMATS = frozenset({"wav", "flac"})
"""Formats whose frame counts survive a round trip exactly."""


def _available(major: str, subtype: str) -> bool:
    return major in sf.available_formats() and subtype in sf.available_subtypes(major)


SUPPORTED_FORMATS: tuple[str, ...] = tuple(
    fmt for fmt, (major, subtype) in _FORMAT_SPECS.items() if _available(major, subtype)
)
"""Output formats the installed libsndfile can write (mp3 needs libsndfile >= 1.1)."""

AudioSource = Union[str, os.PathLike, bytes, bytearray, memoryview]
"""A chunk's audio: a file path or the encoded bytes."""
MergeSource = Union[AudioSource, Callable[[], AudioSource]]
"""A merge input: audio, or a callable producing it when the merge reaches it."""


@dataclass(frozen=True)
class MergeStats:
    """What :func:`merge_streaming` wrote.

    Attributes:
        frames: frames written (chunk audio plus pauses).
        duration_seconds: ``frames / sample_rate``.
        chunks: number of sources merged.
    """

    frames: int
    duration_seconds: float
    chunks: int


def _spec(fmt: str) -> tuple[str, str]:
    if fmt not in SUPPORTED_FORMATS:
        raise ValueError(f"unsupported audio format {fmt!r}; supported: {', '.join(SUPPORTED_FORMATS)}")
    return _FORMAT_SPECS[fmt]


def _as_mono(block: np.ndarray) -> np.ndarray:
    """Return a 1-D float32 view of ``block``, averaging channels if there are several."""
    block = np.asarray(block, dtype=np.float32)
    if block.ndim == 2:
        block = block[:, 0] if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32)
    elif block.ndim != 1:
        raise ValueError(f"audio must be 1-D (mono) or 2-D (frames, channels), got shape {block.shape}")
    return block


def _prepare(audio: np.ndarray) -> np.ndarray:
    """Mono float32 clipped to [-1, 1] (the only level change we ever apply)."""
    return np.clip(_as_mono(audio), -1.0, 1.0)


def _open_input(source: AudioSource) -> BinaryIO | str:
    """What ``soundfile`` should open for ``source``: a path string or an in-memory file."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(source)
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    raise TypeError(f"audio source must be a path or bytes, not {type(source).__name__}")


def encode(audio: np.ndarray, sample_rate: int, fmt: str) -> bytes:
    """Encode mono audio in ``fmt`` and return the file's bytes.

    Raises:
        ValueError: unsupported format or badly shaped audio.
    """
    major, subtype = _spec(fmt)
    buffer = io.BytesIO()
    sf.write(buffer, _prepare(audio), sample_rate, format=major, subtype=subtype)
    return buffer.getvalue()


def write_file(path: str | os.PathLike, audio: np.ndarray, sample_rate: int, fmt: str) -> None:
    """Write mono audio to ``path`` in ``fmt``.

    Raises:
        ValueError: unsupported format or badly shaped audio.
    """
    major, subtype = _spec(fmt)
    sf.write(os.fspath(path), _prepare(audio), sample_rate, format=major, subtype=subtype)


def decode(data_or_path: AudioSource) -> tuple[np.ndarray, int]:
    """Decode a file or encoded bytes.

    Returns:
        ``(audio, sample_rate)`` with ``audio`` mono float32 (channels averaged).

    Raises:
        soundfile.LibsndfileError: the data is not a readable audio file.
    """
    target = _open_input(data_or_path)
    audio, rate = sf.read(target, dtype="float32", always_2d=True)
    return _as_mono(audio), int(rate)


def duration_of(path_or_bytes: AudioSource) -> float:
    """Duration in seconds from the file header.

    Exact for WAV and FLAC. For MP3 the frame count comes from mpg123 and is only as good as
    the file's gapless (LAME/Xing) header: files written here by libsndfile >= 1.1 read back
    exactly, but other encoders' files can be off by the encoder delay and padding (a couple
    of MPEG frames, ~0.05 s at 22.05 kHz), so treat MP3 durations as approximate. OGG Vorbis
    counts come from the last granule position and are normally exact.
    """
    target = _open_input(path_or_bytes)
    with sf.SoundFile(target) as f:
        return f.frames / f.samplerate


def _resolve(source: MergeSource) -> AudioSource:
    return source() if callable(source) else source


def _copy_chunk(out: sf.SoundFile, source: AudioSource, sample_rate: int, position: int,
                block_frames: int) -> int:
    """Append one chunk's audio to ``out`` block by block; return the frames written."""
    target = _open_input(source)
    written = 0
    with sf.SoundFile(target) as chunk:
        if chunk.samplerate != sample_rate:
            raise ValueError(f"chunk {position} has sample rate {chunk.samplerate} Hz, "
                             f"expected {sample_rate} Hz (merge does not resample)")
        for block in chunk.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
            data = _prepare(block)
            out.write(data)
            written += len(data)
    return written


def merge_streaming(sources: Iterable[MergeSource], out_path: str | os.PathLike, fmt: str,
                    sample_rate: int, pause_ms: int,
                    block_frames: int = BLOCK_FRAMES) -> MergeStats:
    """Concatenate chunk audio into one file, with ``pause_ms`` of silence between chunks.

    Sources are consumed in order, one at a time: a callable source is called only when the
    merge reaches it and its result is dropped before the next one is fetched, so memory holds
    one chunk (or, for a path, one block) regardless of how many chunks there are. The
    iterable itself is never turned into a list. On failure the partial output is removed.

    Args:
        sources: paths, encoded bytes, or zero-argument callables returning either.
        out_path: the file to create (overwritten).
        fmt: output format, one of :data:`SUPPORTED_FORMATS`.
        sample_rate: rate of every chunk and of the output.
        pause_ms: silence inserted between consecutive chunks (not after the last).
        block_frames: frames per read/write block.

    Returns:
        :class:`MergeStats`; ``frames`` is exact for WAV/FLAC and the count of frames handed
        to the encoder for MP3/OGG.

    Raises:
        ValueError: unsupported format, no sources, or a chunk at another sample rate.
    """
    major, subtype = _spec(fmt)
    if block_frames <= 0:
        raise ValueError("block_frames must be > 0")
    pause = np.zeros(int(round(sample_rate * pause_ms / 1000)), dtype=np.float32)
    frames = chunks = 0
    try:
        with sf.SoundFile(os.fspath(out_path), "w", samplerate=sample_rate, channels=1,
                          format=major, subtype=subtype) as out:
            for position, source in enumerate(sources):
                if chunks and len(pause):
                    out.write(pause)
                    frames += len(pause)
                audio = _resolve(source)
                frames += _copy_chunk(out, audio, sample_rate, position, block_frames)
                del audio
                chunks += 1
            if not chunks:
                raise ValueError("merge_streaming needs at least one source")
    except BaseException:
        Path(out_path).unlink(missing_ok=True)
        raise
    return MergeStats(frames=frames, duration_seconds=frames / sample_rate, chunks=chunks)
