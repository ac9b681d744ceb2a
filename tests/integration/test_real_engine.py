"""The real bundled engine through the whole stack: API → Redis → Celery worker → S3 → merge."""

from __future__ import annotations

import numpy as np
import pytest

from tests.integration.conftest import redis_db_url
from tests.integration.jobclient import decode, download, submit, wait_for
from tingshu.services import ApiThread, CeleryWorkerProcess

REAL_DB = 5


@pytest.fixture
def real_settings(s3_session_settings, redis_server, bundled_model_dir):
    import redis

    settings = s3_session_settings.replace(redis_url=redis_db_url(redis_server.url, REAL_DB), engine="bundled",
                                           model_dir=str(bundled_model_dir), chunks_per_task=2, device="cpu",
                                           allow_anonymous=True)
    redis.Redis.from_url(settings.redis_url).flushdb()
    return settings


def test_bundled_engine_end_to_end(real_settings, tmp_path):
    api = ApiThread(real_settings).start()
    worker = CeleryWorkerProcess(real_settings, tmp_path, concurrency=1, name="bundled").start(timeout=240)
    try:
        text = "欢迎使用听书语音合成服务。今天我们来读一段短文，看看效果如何。希望你喜欢！"
        job = submit(api.url, {"text": text, "format": "mp3", "seed": 7})
        assert job["progress"]["chunks_total"] >= 2
        done = wait_for(api.url, job["id"], timeout=240)
        assert done["state"] == "succeeded", (done, worker.log_tail())
        audio, rate = decode(download(done["result"]["url"]))
        assert rate == 22050
        seconds = len(audio) / rate
        spoken_chars = sum(ch.isalpha() for ch in text)
        # calibrated band of the bundled engine is about 0.2-0.3 s per character
        assert 0.12 * spoken_chars < seconds < 0.45 * spoken_chars, seconds
        assert float(np.sqrt(np.mean(audio**2))) > 0.01  # not silence
    finally:
        worker.stop()
        api.stop()
