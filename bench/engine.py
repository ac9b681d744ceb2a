"""Benchmark of the bundled engine: one ~300-character paragraph, one line of JSON.

Measures, on the engine's device: acoustic-model RTF at batch 1 and at the engine's token-budget
batching, vocoder RTF, and end-to-end chars/s and RTF of ``engine.synthesize``. A GPU section
(FP32 vs FP16 peak VRAM and throughput; peak VRAM for 500 vs 50,000 characters) runs only when
CUDA is available. Prints one JSON line and writes it to ``bench/results/engine-<timestamp>.json``.

Usage: ``python bench/engine.py`` (threads: ``TINGSHU_TORCH_THREADS``, default all cores).
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from common.config import Settings  # noqa: E402
from common.engines.base import SynthesisOptions  # noqa: E402
from common.engines.bundled import batching, load_engine  # noqa: E402
from common.engines.bundled.engine import _Item  # noqa: E402
from common.engines.base import ItemDiagnostics  # noqa: E402
from common.engines.bundled.melgan import HOP  # noqa: E402

PARAGRAPH = (
    "春天来了，小河里的冰慢慢融化了，岸边的柳树抽出了嫩绿的新芽。孩子们脱下厚厚的棉衣，在田野里奔跑、放风筝，"
    "笑声传得很远很远。农民伯伯扛着锄头走向田间，开始一年的耕种。燕子从南方飞回来，在屋檐下忙着筑巢。"
    "公园里的花朵竞相开放，红的像火，粉的像霞，白的像雪，引来了许多蜜蜂和蝴蝶。老人们坐在长椅上晒着太阳，"
    "聊着家常，脸上露出满意的笑容。傍晚时分，天边的晚霞把整个城市染成了金黄色，街道两旁的路灯一盏一盏亮了起来。"
    "人们结束了一天的工作，有的回家和家人一起吃晚饭，有的到广场上散步、跳舞。夜深了，月亮悄悄爬上树梢，"
    "星星眨着眼睛，整个世界渐渐安静下来，只有微风轻轻吹过，仿佛在讲述一个关于春天的美丽故事。"
)
VOICE = "aiyue"


def chunk(text: str, limit: int) -> list[str]:
    """Bench-only chunker: sentence/clause punctuation, packed up to ``limit`` characters."""
    pieces = [p for p in re.split(r"(?<=[。！？；，、])", text) if p]
    out, cur = [], ""
    for p in pieces:
        if cur and len(cur) + len(p) > limit:
            out.append(cur)
            cur = ""
        cur += p
    return out + ([cur] if cur else [])


def acoustic_pass(engine, items, batched: bool) -> tuple[float, int]:
    groups = (batching.token_batches(items, [len(i.fe.ids) for i in items], engine.token_budget,
                                     engine.max_batch_items) if batched else [[i] for i in items])
    frames, started = 0, time.perf_counter()
    for g in groups:
        outs = engine._infer(engine.acoustic, engine.device, g, "Aiyue", 0, 1)
        frames += sum(o.frames for o in outs)
        if engine.device.type == "cuda":
            torch.cuda.synchronize()
    return time.perf_counter() - started, frames


def main() -> dict:
    threads = int(os.environ.get("TINGSHU_TORCH_THREADS", os.cpu_count() or 1))
    settings = Settings.from_env().replace(torch_threads=threads)
    t0 = time.perf_counter()
    engine = load_engine(settings)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine.warmup()
    warmup_s = time.perf_counter() - t0
    chunks = chunk(PARAGRAPH, engine.max_chunk_chars)
    items = [_Item(c, engine.frontend(c), ItemDiagnostics()) for c in chunks]
    sr = engine.sample_rate
    torch.set_num_threads(threads)
    with torch.inference_mode(), engine._autocast(engine.device):
        b1_s, b1_frames = acoustic_pass(engine, items, batched=False)
        bn_s, bn_frames = acoustic_pass(engine, items, batched=True)
        outs = engine._infer(engine.acoustic, engine.device, items, "Aiyue", 0, 1)
        t0 = time.perf_counter()
        for o in outs:
            engine.vocoder.vocode(o.mel[None])
        voc1_s = time.perf_counter() - t0
    groups = batching.token_batches(items, [len(i.fe.ids) for i in items], engine.token_budget, engine.max_batch_items)
    t0 = time.perf_counter()
    results = engine.synthesize(chunks, SynthesisOptions(voice=VOICE, seed=0))
    e2e_s = time.perf_counter() - t0
    audio_s = sum(r.duration for r in results)
    sec = lambda frames: frames * HOP / sr  # noqa: E731
    result = {
        "bench": "engine", "engine": "bundled", "device": str(engine.device), "torch": torch.__version__,
        "threads": threads, "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
        "chars": len(PARAGRAPH), "chunks": len(chunks), "max_chunk_chars": engine.max_chunk_chars,
        "batch_sizes": [len(g) for g in groups], "token_budget": engine.token_budget,
        "load_s": round(load_s, 2), "warmup_s": round(warmup_s, 2),
        "acoustic_rtf_batch1": round(b1_s / sec(b1_frames), 4),
        "acoustic_rtf_batched": round(bn_s / sec(bn_frames), 4),
        "acoustic_batch_speedup": round((b1_s / sec(b1_frames)) / (bn_s / sec(bn_frames)), 2),
        "vocoder_rtf_batch1": round(voc1_s / sec(sum(o.frames for o in outs)), 4),
        "end_to_end_seconds": round(e2e_s, 2), "audio_seconds": round(audio_s, 2),
        "end_to_end_rtf": round(e2e_s / audio_s, 4), "chars_per_second": round(len(PARAGRAPH) / e2e_s, 1),
        "retries": sum(r.diagnostics.attempts - 1 for r in results),
        "splits": sum(r.diagnostics.split_into > 1 for r in results),
        "targets": {"end_to_end_rtf<=0.15": e2e_s / audio_s <= 0.15,
                    "batched_acoustic>=3x": (b1_s / sec(b1_frames)) / (bn_s / sec(bn_frames)) >= 3.0},
        "gpu": gpu_section(engine, settings) if engine.device.type == "cuda" else "skipped: no CUDA",
    }
    return result


def gpu_section(engine, settings, long_sizes: tuple[int, ...] = (500, 50_000)) -> dict:
    """FP32 vs FP16 and long-text peak VRAM (CUDA only); VRAM must not grow with text length."""
    from common.engines.bundled.engine import BundledEngine

    out = {}
    chunks = chunk(PARAGRAPH, engine.max_chunk_chars)
    for label, fp16 in (("fp32", False), ("fp16", True)):
        eng = BundledEngine(settings.replace(fp16=fp16), engine.acoustic, engine.vocoder, engine.acoustic.hp,
                            engine.device)
        eng.gate_threshold, eng.max_decoder_steps = engine.gate_threshold, engine.max_decoder_steps
        eng.frontend = engine.frontend  # same phkit readings as the loaded engine
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        res = eng.synthesize(chunks, SynthesisOptions(voice=VOICE, seed=0))
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        out[label] = {"seconds": round(dt, 2), "rtf": round(dt / sum(r.duration for r in res), 4),
                      "chars_per_second": round(len(PARAGRAPH) / dt, 1),
                      "peak_vram_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1)}
    for n_chars in long_sizes:
        text = (PARAGRAPH * (n_chars // len(PARAGRAPH) + 1))[:n_chars]
        torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        res = engine.synthesize(chunk(text, engine.max_chunk_chars), SynthesisOptions(voice=VOICE, seed=0))
        torch.cuda.synchronize()
        out[f"chars_{n_chars}"] = {"seconds": round(time.perf_counter() - t0, 2),
                                   "audio_seconds": round(sum(r.duration for r in res), 1),
                                   "peak_vram_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1)}
    return out


if __name__ == "__main__":
    data = main()
    line = json.dumps(data, ensure_ascii=False)
    print(line)
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / f"engine-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(line + "\n", encoding="utf-8")
