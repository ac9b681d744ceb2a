"""Benchmark: what the distributed pipeline costs on top of synthesis, and merge memory.

1. Queue overhead. One run, one worker process, a ~5,000-character text through the real
   stack (HTTP API → Redis → Celery → S3 → chord merge):
   ``overhead = (job wall time − Σ per-chunk synthesis time) / Σ synthesis time``.
2. Merge memory. Chunks of a 1k- and a 100k-character job (tone engine, so it is quick) are
   merged streaming in fresh subprocesses; ``merge_rss_ratio = peak RSS(100k) / peak RSS(1k)``.

Prints one JSON line and writes it to ``bench/results/pipeline_overhead-<time>.json``.
Targets: overhead ≤ 0.05, merge RSS ratio ≤ 1.2.

    .venv/bin/python bench/pipeline_overhead.py [--engine bundled] [--chars 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common.config import Settings  # noqa: E402
from tingshu.services import ApiThread, CeleryWorkerProcess, RedisServer, S3Server  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def sample_text(chars: int) -> str:
    base = (ROOT / "samples" / "sample.txt").read_text(encoding="utf-8").replace("\n", "")
    return (base * (chars // len(base) + 1))[:chars]


def queue_overhead(engine: str, chars: int, workdir: Path) -> dict:
    import requests

    from common.jobs import JobStore

    redis_server = RedisServer(workdir / "redis").start()
    s3 = S3Server(workdir / "s3").start()
    settings = Settings.from_env().replace(
        redis_url=redis_server.url, storage="s3", s3_endpoint=s3.endpoint, s3_access_key=s3.access_key,
        s3_secret_key=s3.secret_key, engine=engine, device="cpu", allow_anonymous=True,
        default_rate_per_minute=0)
    api = ApiThread(settings).start()
    worker = CeleryWorkerProcess(settings, workdir, concurrency=1, name="bench").start(timeout=300)
    try:
        warm = requests.post(api.url + "/v1/jobs", json={"text": "预热一下。"}, timeout=60)
        warm.raise_for_status()
        warm = warm.json()
        _wait(api.url, warm["id"], 600)
        started = time.perf_counter()
        job = requests.post(api.url + "/v1/jobs", json={"text": sample_text(chars), "format": "flac", "seed": 1},
                            timeout=120).json()
        done = _wait(api.url, job["id"], 3600)
        wall = time.perf_counter() - started
        if done["state"] != "succeeded":
            raise RuntimeError(f"job ended {done['state']}: {done['error']}")
        infos = JobStore.from_url(settings.redis_url).chunk_infos(job["id"])
        synth = sum(i["synth_seconds"] for i in infos.values())
        audio = sum(i["audio_seconds"] for i in infos.values())
        return {"engine": engine, "chars": chars, "chunks": len(infos), "wall_seconds": round(wall, 2),
                "synth_seconds": round(synth, 2), "audio_seconds": round(audio, 2),
                "queue_overhead": round((wall - synth) / synth, 4), "end_to_end_rtf": round(wall / audio, 4)}
    finally:
        worker.stop()
        api.stop()
        s3.stop()
        redis_server.stop()


def _wait(url: str, job_id: str, timeout: float) -> dict:
    import requests

    deadline = time.monotonic() + timeout
    while True:
        job = requests.get(f"{url}/v1/jobs/{job_id}", timeout=30).json()
        if job["state"] in ("succeeded", "failed", "canceled") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


MERGE_CHILD = """
import json, resource, sys
from pathlib import Path
from common.pipeline import merge_to_file
from common.storage.local import LocalStorage
root, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
stats = merge_to_file(LocalStorage(Path(root)), "bench", count, Path(out), "mp3", 16000, 250)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rss_before_kb": before, "rss_peak_kb": peak, "audio_seconds": stats.duration_seconds}))
"""


def merge_rss(chars: int, workdir: Path) -> dict:
    from common.engines.base import SynthesisOptions
    from common.engines.tone import ToneEngine
    from common.pipeline import plan_chunks, synthesize_group, task_groups
    from common.storage.local import LocalStorage

    root = workdir / f"merge-{chars}"
    storage = LocalStorage(root)
    engine = ToneEngine()
    chunks = plan_chunks(sample_text(chars), Settings().replace(chunk_chars=80), engine.max_chunk_chars)
    for first, count in task_groups(len(chunks), 16):
        synthesize_group(engine, storage, "bench", first, chunks[first:first + count], SynthesisOptions("tone-a"))
    out = workdir / f"merged-{chars}.mp3"
    child = subprocess.run([sys.executable, "-c", MERGE_CHILD, str(root), str(len(chunks)), str(out)],
                           cwd=ROOT, capture_output=True, text=True, check=True)
    result = json.loads(child.stdout)
    return {"chars": chars, "chunks": len(chunks), **result}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", default="bundled")
    parser.add_argument("--chars", type=int, default=5000)
    parser.add_argument("--skip-queue", action="store_true", help="only the merge-memory part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tingshu-bench-") as tmp:
        workdir = Path(tmp)
        small, large = merge_rss(1_000, workdir), merge_rss(100_000, workdir)
        result = {
            "benchmark": "pipeline_overhead",
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "cpu_count": os.cpu_count(),
            "merge_small": small, "merge_large": large,
            "merge_rss_ratio": round(large["rss_peak_kb"] / small["rss_peak_kb"], 4),
        }
        if not args.skip_queue:
            result["queue"] = queue_overhead(args.engine, args.chars, workdir)
            result["queue_overhead"] = result["queue"]["queue_overhead"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"pipeline_overhead-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
