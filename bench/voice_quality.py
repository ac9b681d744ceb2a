"""Intelligibility of every bundled voice (shipped and dropped), measured by speech recognition.

Each ttskit speaker name in ``voices.VOICES`` and ``voices.DROPPED`` reads the sentences of
``common.quality.EVERYDAY_SENTENCES`` with fixed seeds through the engine's full pipeline
(normalisation, retries on stop-token/length/attention problems, splitting), by speaker name so
that dropped voices can be measured too. Whisper base (``common.quality.transcribe``) transcribes
each item; per voice we report the mean and worst character error rate (hanzi, simplified) and
pinyin syllable error rate (toneless), decoder runs and stop-token misses across all attempts
and splits (runaway decoding), retries, splits and items the engine gave up on (counted as error 1.0), and whether the
voice passes the gate ``voices.GATE_PINYIN_ER`` on its mean pinyin error.

Prints one JSON line and writes it to ``bench/results/voice_quality-<timestamp>.json``.

Usage: ``python bench/voice_quality.py [--seeds 0 1] [--speakers Aiyue Xiaowei]``
(threads: ``TINGSHU_TORCH_THREADS``, default all cores). Needs the ``quality`` extra.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from common import quality  # noqa: E402
from common.config import Settings  # noqa: E402
from common.engines.bundled import SAMPLE_RATE, load_engine, prosody, voices  # noqa: E402
from common.errors import SynthesisFailed  # noqa: E402


class DecoderCounter:
    """Wraps ``engine._infer`` to count every decoder run and those whose stop token never fired."""

    def __init__(self, engine):
        self.runs = self.stop_misses = 0
        inner = engine._infer

        def counted(*args, **kwargs):
            outputs = inner(*args, **kwargs)
            self.runs += len(outputs)
            self.stop_misses += sum(not o.stop_fired for o in outputs)
            return outputs

        engine._infer = counted

    def take(self) -> tuple[int, int]:
        counts, self.runs, self.stop_misses = (self.runs, self.stop_misses), 0, 0
        return counts


def synthesize(engine, texts: list[str], speaker: str, seed: int) -> list[tuple]:
    """``[(audio | None, diagnostics | None, error | None)]`` per text, by ttskit speaker name."""
    preset = prosody.PRESETS["neutral"]
    try:
        with engine._threads():
            return [(a, d, None) for a, d in engine._synthesize_texts(list(texts), speaker, 1.0, preset, seed, 0)]
    except SynthesisFailed:
        pass  # find which item failed: one by one (same per-item seeds, so same results)
    out = []
    for text in texts:
        try:
            with engine._threads():
                [(audio, diag)] = engine._synthesize_texts([text], speaker, 1.0, preset, seed, 0)
            out.append((audio, diag, None))
        except SynthesisFailed as exc:
            out.append((None, None, str(exc)))
    return out


def measure_voice(engine, counter: DecoderCounter, speaker: str, seeds: list[int]) -> dict:
    items = []
    counter.take()
    synth_s = asr_s = audio_s = 0.0
    for seed in seeds:
        started = time.perf_counter()
        outputs = synthesize(engine, list(quality.EVERYDAY_SENTENCES), speaker, seed)
        synth_s += time.perf_counter() - started
        for text, (audio, diag, error) in zip(quality.EVERYDAY_SENTENCES, outputs):
            item = {"seed": seed, "text": text}
            if audio is None:
                item.update(failed=True, error=error, hypothesis="", cer=1.0, pinyin_er=1.0)
            else:
                started = time.perf_counter()
                hyp = quality.transcribe(audio, SAMPLE_RATE)
                asr_s += time.perf_counter() - started
                audio_s += len(audio) / SAMPLE_RATE
                item.update(failed=False, hypothesis=hyp, cer=round(quality.cer(text, hyp), 4),
                            pinyin_er=round(quality.pinyin_er(text, hyp), 4),
                            seconds=round(len(audio) / SAMPLE_RATE, 2),
                            attempts=diag.attempts, split_into=diag.split_into, notes=diag.notes)
            items.append(item)
    cers = [i["cer"] for i in items]
    pers = [i["pinyin_er"] for i in items]
    ok = [i for i in items if not i["failed"]]
    decoder_runs, stop_misses = counter.take()
    spec = next((v for v in voices.VOICES if v.speaker == speaker), None)
    return {
        "speaker": speaker,
        "voice_id": spec.id if spec else None,
        "shipped": spec is not None,
        "cer_mean": round(statistics.fmean(cers), 4),
        "cer_max": max(cers),
        "pinyin_er_mean": round(statistics.fmean(pers), 4),
        "pinyin_er_max": max(pers),
        "passes_gate": statistics.fmean(pers) <= voices.GATE_PINYIN_ER and not any(i["failed"] for i in items),
        "items": len(items),
        "failed": sum(i["failed"] for i in items),
        "decoder_runs": decoder_runs,
        "stop_misses": stop_misses,
        "retries": sum(i["attempts"] - 1 for i in ok),
        "splits": sum(i["split_into"] > 1 for i in ok),
        "audio_s": round(audio_s, 2),
        "synth_s": round(synth_s, 2),
        "asr_s": round(asr_s, 2),
        "detail": items,
    }


SUMMARY_KEYS = ("cer_mean", "pinyin_er_mean", "pinyin_er_max", "failed", "decoder_runs", "stop_misses", "retries",
                "splits", "shipped", "passes_gate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--speakers", nargs="+", default=None, help="ttskit speaker names (default: all)")
    args = parser.parse_args()
    speakers = args.speakers or [v.speaker for v in voices.VOICES] + list(voices.DROPPED)

    threads = int(os.environ.get("TINGSHU_TORCH_THREADS", os.cpu_count() or 1))
    engine = load_engine(Settings.from_env().replace(device="cpu", torch_threads=max(1, threads)))
    quality.transcribe(np.zeros(16_000, dtype=np.float32), 16_000)  # load Whisper once
    started = time.perf_counter()
    counter = DecoderCounter(engine)
    results = []
    for speaker in speakers:
        r = measure_voice(engine, counter, speaker, args.seeds)
        results.append(r)
        print(f"{speaker:10s} cer {r['cer_mean']:.3f} pinyin {r['pinyin_er_mean']:.3f} (max {r['pinyin_er_max']:.2f}) "
              f"failed {r['failed']} stop_misses {r['stop_misses']}/{r['decoder_runs']} retries {r['retries']} "
              f"splits {r['splits']} {'PASS' if r['passes_gate'] else 'FAIL'}", file=sys.stderr, flush=True)
    ranked = sorted(results, key=lambda r: (r["pinyin_er_mean"], r["cer_mean"]))
    data = {
        "bench": "voice_quality",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "host": platform.node(),
        "torch_threads": threads,
        "asr": "whisper-base ct2 int8, beam 2, language zh",
        "sentences": list(quality.EVERYDAY_SENTENCES),
        "seeds": args.seeds,
        "gate_pinyin_er": voices.GATE_PINYIN_ER,
        "wall_s": round(time.perf_counter() - started, 1),
        "best": ranked[0]["speaker"],
        "summary": {r["speaker"]: {k: r[k] for k in SUMMARY_KEYS} for r in ranked},
        "voices": results,
    }
    line = json.dumps(data, ensure_ascii=False)
    print(line)
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"voice_quality-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(line + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
