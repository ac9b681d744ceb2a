"""The distributed stack on local-directory storage: the API streams the result itself."""

from __future__ import annotations

import requests

from common.engines.tone import SAMPLE_RATE
from tests.integration.conftest import redis_db_url
from tests.integration.jobclient import decode, submit, wait_for
from tingshu.services import running_stack

LOCAL_DB = 6


def test_local_storage_job_streams_audio(redis_server, tmp_path):
    import redis

    from common.config import Settings

    settings = Settings().replace(redis_url=redis_db_url(redis_server.url, LOCAL_DB), engine="tone",
                                  storage="local", local_dir=str(tmp_path / "storage"), allow_anonymous=True)
    redis.Redis.from_url(settings.redis_url).flushdb()
    with running_stack(settings, tmp_path, "local") as (api, _worker):
        job = submit(api.url, {"text": "本地存储也能用。结果由接口直接返回。", "format": "ogg"})
        done = wait_for(api.url, job["id"])
        assert done["state"] == "succeeded", done
        assert done["result"]["url"].endswith(f"/v1/jobs/{job['id']}/audio")
        response = requests.get(done["result"]["url"], timeout=30)
        assert response.status_code == 200 and response.headers["Content-Type"] == "audio/ogg"
        assert f"tingshu-{job['id']}.ogg" in response.headers["Content-Disposition"]
        audio, rate = decode(response.content)
        assert rate == SAMPLE_RATE and abs(len(audio) / rate - done["result"]["audio_seconds"]) < 0.15
