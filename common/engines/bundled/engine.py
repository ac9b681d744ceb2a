"""The bundled engine: batched Tacotron 2 + MelGAN synthesis with retries and diagnostics.

One :meth:`BundledEngine.synthesize` call takes the texts of one voice, normalises them
(``common.text.normalize.normalize_text`` when that module exists), converts them to symbol
ids, and decodes them in token-budget batches. Every item is checked (stop token, frames per
syllable, attention coverage, then silence and clipping after vocoding); a rejected item is
retried with fresh dropout noise, and after :data:`ATTEMPTS` tries its text is split in two
and each half synthesized the same way (depth :data:`MAX_SPLIT_DEPTH`). Nothing truncated or
runaway is returned: an item that still fails raises :class:`SynthesisFailed`.

Randomness: the prenet dropout of each item is drawn from a generator seeded with
``(options.seed, attempt, text)``, so a job with a seed is reproducible whatever the batching.

Devices: on CPU, ``torch.set_num_threads(settings.torch_threads)`` and items are vocoded one
by one (batching does not help the vocoder there). On CUDA, FP16 autocast when
``settings.fp16`` (attention softmax and stop gate stay in fp32), batched vocoding,
``torch.cuda.empty_cache()`` after each batch when ``settings.cuda_empty_cache``, and on CUDA
out-of-memory the batch is halved; at batch size 1 the item runs on the CPU only if
``settings.cpu_fallback``.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import random
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from common.config import Settings
from common.engines.base import Emotion, ItemDiagnostics, SynthesisOptions, SynthesisResult, Voice, validate_options
from common.engines.bundled import MAX_CHUNK_CHARS, SAMPLE_RATE, batching, prosody, voices
from common.engines.bundled.frontend import FrontEnd, FrontEndResult
from common.engines.bundled.melgan import HOP, SILENCE_MEL, MelGAN
from common.engines.bundled.tacotron2 import AcousticOutput, Tacotron2, speaker_vector
from common.errors import SynthesisFailed

log = logging.getLogger(__name__)

ATTEMPTS = 3
MAX_SPLIT_DEPTH = 2
SPLIT_GAP_SECONDS = 0.08
EMPTY_SECONDS = 0.2
CPU_BUDGET, CPU_MAX_ITEMS = 2_400, 16
CUDA_BUDGET, CUDA_MAX_ITEMS = 24_000, 128


@dataclass
class _Item:
    text: str
    fe: FrontEndResult
    diag: ItemDiagnostics
    audio: np.ndarray | None = None
    problems: list[str] = field(default_factory=list)


def _load_normalizer() -> Callable[[str], str]:
    try:
        from common.text.normalize import normalize_text
    except ImportError:
        return lambda text: text
    return normalize_text


class BundledEngine:
    """Offline Chinese TTS: ttskit's Mellotron (Tacotron 2) multi-speaker model + MelGAN."""

    name = "bundled"
    sample_rate = SAMPLE_RATE
    max_chunk_chars = MAX_CHUNK_CHARS

    def __init__(self, settings: Settings, acoustic: Tacotron2, vocoder: MelGAN, hparams: dict, device: torch.device,
                 frontend_dir: Path | None = None):
        self.settings = settings
        self.device = device
        self.acoustic = acoustic.to(device).eval()
        self.vocoder = vocoder.to(device).eval()
        decoder_attrs = hparams.get("pickled_decoder_attributes", {})
        self.gate_threshold = float(decoder_attrs.get("gate_threshold", hparams.get("gate_threshold", 0.5)))
        self.max_decoder_steps = int(decoder_attrs.get("max_decoder_steps", hparams.get("max_decoder_steps", 1000)))
        cuda = device.type == "cuda"
        self.token_budget = CUDA_BUDGET if cuda else CPU_BUDGET
        self.max_batch_items = CUDA_MAX_ITEMS if cuda else CPU_MAX_ITEMS
        self.frontend = FrontEnd(frontend_dir)
        self._normalize = _load_normalizer()
        self._cpu_models: tuple[Tacotron2, MelGAN] | None = None

    # -- Engine protocol -------------------------------------------------------------------
    def voices(self) -> Sequence[Voice]:
        return voices.voice_list()

    def emotions(self) -> Sequence[Emotion]:
        return prosody.emotions()

    def default_voice(self) -> str:
        return voices.default_voice_id()

    def warmup(self) -> None:
        """Load the front-end dictionaries and run one short synthesis."""
        self.frontend.warmup()
        self.synthesize(["你好。"], SynthesisOptions(voice=self.default_voice(), seed=0))

    def synthesize(self, texts: Sequence[str], options: SynthesisOptions) -> list[SynthesisResult]:
        validate_options(self, options)
        if not texts:
            return []
        seed = options.seed if options.seed is not None else random.randrange(2**31)
        preset = prosody.PRESETS[options.emotion]
        with self._threads():
            audios = self._synthesize_texts(list(texts), voices.speaker_name(options.voice), options.speed,
                                            preset, seed, depth=0)
        results = []
        for audio, diag in audios:
            if options.seed is None:
                diag.notes.append(f"seed={seed}")
            results.append(SynthesisResult(audio=audio, sample_rate=SAMPLE_RATE, diagnostics=diag))
        return results

    # -- pipeline ----------------------------------------------------------------------------
    def _synthesize_texts(self, texts: list[str], speaker: str, speed: float, preset: prosody.Preset,
                          seed: int, depth: int) -> list[tuple[np.ndarray, ItemDiagnostics]]:
        items = []
        for text in texts:
            fe = self.frontend(self._normalize(text))
            items.append(_Item(text, fe, ItemDiagnostics(chars=len(text), device=self.device.type, attempts=0)))
        for item in items:
            if item.fe.syllables == 0:
                item.audio = np.zeros(int(EMPTY_SECONDS * SAMPLE_RATE), dtype=np.float32)
                item.diag.frames, item.diag.notes = 0, ["no speakable text: short silence"]
        for attempt in range(1, ATTEMPTS + 1):
            pending = [it for it in items if it.audio is None]
            if not pending:
                break
            self._attempt(pending, speaker, speed, preset, seed, attempt)
        for item in items:
            if item.audio is not None:
                continue
            parts = batching.split_text(item.text) if depth < MAX_SPLIT_DEPTH else [item.text]
            if len(parts) < 2:
                raise SynthesisFailed(f"could not synthesize {item.text!r} after {item.diag.attempts} attempts: "
                                      f"{'; '.join(item.problems)}")
            log.info("splitting %r into %d parts after: %s", item.text, len(parts), "; ".join(item.problems))
            sub = self._synthesize_texts(parts, speaker, speed, preset, seed, depth + 1)
            gap = np.zeros(int(SPLIT_GAP_SECONDS * SAMPLE_RATE / speed), dtype=np.float32)
            pieces = []
            for k, (audio, d) in enumerate(sub):
                pieces += [gap, audio] if k else [audio]
                item.diag.attempts += d.attempts
                item.diag.frames += d.frames
                item.diag.stop_fired = item.diag.stop_fired and d.stop_fired
                item.diag.acoustic_seconds += d.acoustic_seconds
                item.diag.vocoder_seconds += d.vocoder_seconds
            item.diag.split_into = sum(d.split_into for _, d in sub)
            item.diag.notes.append(f"split into {item.diag.split_into} parts after: {'; '.join(item.problems)}")
            item.audio = np.concatenate(pieces)
        return [(it.audio, it.diag) for it in items]

    def _attempt(self, items: list[_Item], speaker: str, speed: float, preset: prosody.Preset,
                 seed: int, attempt: int) -> None:
        lengths = [len(it.fe.ids) for it in items]
        for group in batching.token_batches(items, lengths, self.token_budget, self.max_batch_items):
            outputs, seconds, device = self._acoustic(group, speaker, seed, attempt)
            total_frames = sum(o.frames for o in outputs) or 1
            accepted = []
            for item, out in zip(group, outputs):
                item.diag.attempts += 1
                item.diag.device = device.type
                item.diag.acoustic_seconds += seconds * out.frames / total_frames
                item.diag.frames, item.diag.stop_fired = out.frames, out.stop_fired
                problems = batching.acoustic_problems(item.fe.syllables, out.frames, out.stop_fired, out.attention_max,
                                                     item.fe.last_spoken)
                if problems:
                    item.problems = problems
                    item.diag.notes.append(f"attempt {attempt}: {'; '.join(problems)}")
                else:
                    accepted.append((item, out))
            self._vocode(accepted, speed, preset, device)
            self._after_batch()

    def _acoustic(self, group: list[_Item], speaker: str, seed: int, attempt: int):
        """Run the decoder on ``group``; returns (outputs, seconds, device). Handles CUDA OOM."""
        started = time.perf_counter()
        try:
            outputs = self._infer(self.acoustic, self.device, group, speaker, seed, attempt)
            return outputs, time.perf_counter() - started, self.device
        except torch.OutOfMemoryError:
            self._free()
            if len(group) > 1:
                self.token_budget = max(self.token_budget // 2, 64)
                half = len(group) // 2
                log.warning("CUDA out of memory at batch %d: halving (token budget now %d)", len(group), self.token_budget)
                a, sa, da = self._acoustic(group[:half], speaker, seed, attempt)
                b, sb, db = self._acoustic(group[half:], speaker, seed, attempt)
                return a + b, sa + sb, db
            if not self.settings.cpu_fallback:
                raise SynthesisFailed("CUDA out of memory at batch size 1 (set TINGSHU_CPU_FALLBACK=1 to use the CPU)")
            group[0].diag.notes.append("CUDA out of memory: ran on the CPU")
            cpu = torch.device("cpu")
            outputs = self._infer(self._cpu_pair()[0], cpu, group, speaker, seed, attempt)
            return outputs, time.perf_counter() - started, cpu

    def _infer(self, model: Tacotron2, device: torch.device, group: list[_Item], speaker: str,
               seed: int, attempt: int) -> list[AcousticOutput]:
        longest = max(len(it.fe.ids) for it in group)
        ids = torch.zeros(len(group), longest, dtype=torch.long)
        for i, it in enumerate(group):
            ids[i, : len(it.fe.ids)] = torch.tensor(it.fe.ids)
        lengths = torch.tensor([len(it.fe.ids) for it in group])
        speakers = torch.tensor([speaker_vector(speaker)] * len(group), dtype=torch.float32)
        generators = [torch.Generator(device=device).manual_seed(self._item_seed(seed, attempt, it.text))
                      for it in group]
        steps = [batching.max_steps_for(it.fe.syllables, self.max_decoder_steps) for it in group]
        with self._autocast(device):
            return model.infer(ids.to(device), lengths.to(device), speakers.to(device), generators, steps,
                               self.gate_threshold)

    def _vocode(self, accepted: list[tuple[_Item, AcousticOutput]], speed: float, preset: prosody.Preset,
                device: torch.device) -> None:
        if not accepted:
            return
        mels = [prosody.stretch_mel(out.mel, prosody.mel_frames_for(out.frames, speed, preset)) for _, out in accepted]
        started = time.perf_counter()
        if device.type == "cuda":
            audios = self._vocode_cuda(mels)
        else:
            vocoder = self.vocoder if self.device.type == "cpu" else self._cpu_pair()[1]
            audios = [vocoder.vocode(m.cpu()[None])[0].numpy() for m in mels]
        seconds = (time.perf_counter() - started) / len(accepted)
        for (item, out), audio in zip(accepted, audios):
            target = int(round(out.frames * HOP / min(max(speed * preset.rate, prosody.STRETCH_MIN),
                                                      prosody.STRETCH_MAX)))
            audio = prosody.finish_audio(audio, target, preset)
            item.diag.vocoder_seconds += seconds
            problems = batching.audio_problems(audio)
            if problems:
                item.problems = problems
                item.diag.notes.append(f"attempt {item.diag.attempts}: {'; '.join(problems)}")
            else:
                item.audio = audio

    def _vocode_cuda(self, mels: list[torch.Tensor]) -> list[np.ndarray]:
        frames = [m.size(1) for m in mels]
        batch = torch.full((len(mels), mels[0].size(0), max(frames)), SILENCE_MEL, device=self.device)
        for i, m in enumerate(mels):
            batch[i, :, : frames[i]] = m
        try:
            with self._autocast(self.device):
                return [a.cpu().numpy() for a in self.vocoder.vocode(batch, frames)]
        except torch.OutOfMemoryError:
            self._free()
            if len(mels) > 1:
                half = len(mels) // 2
                return self._vocode_cuda(mels[:half]) + self._vocode_cuda(mels[half:])
            if not self.settings.cpu_fallback:
                raise SynthesisFailed("CUDA out of memory in the vocoder (set TINGSHU_CPU_FALLBACK=1 to use the CPU)")
            return [self._cpu_pair()[1].vocode(mels[0].cpu()[None])[0].numpy()]

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _item_seed(seed: int, attempt: int, text: str) -> int:
        return zlib.crc32(f"{seed}:{attempt}:{text}".encode("utf-8")) & 0x7FFFFFFF

    def _autocast(self, device: torch.device):
        if device.type == "cuda" and self.settings.fp16:
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def _threads(self):
        if self.device.type != "cpu" and not self.settings.cpu_fallback:
            yield
            return
        previous = torch.get_num_threads()
        torch.set_num_threads(self.settings.torch_threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    def _cpu_pair(self) -> tuple[Tacotron2, MelGAN]:
        if self._cpu_models is None:
            self._cpu_models = (copy.deepcopy(self.acoustic).cpu().float().eval(),
                                copy.deepcopy(self.vocoder).cpu().float().eval())
        return self._cpu_models

    def _after_batch(self) -> None:
        if self.device.type == "cuda" and self.settings.cuda_empty_cache:
            torch.cuda.empty_cache()

    def _free(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
