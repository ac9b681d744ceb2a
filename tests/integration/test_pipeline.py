"""End to end over HTTP: API → Redis → Celery worker processes → S3 (SeaweedFS) → chord merge.

These run the deterministic tone engine (audio length proportional to text, pitch derived from
the chunk text) so every chunk can be found again in the merged file; the real engine's run
is in ``test_real_engine.py``.
"""

from __future__ import annotations

import requests

from common.engines.tone import FAIL_MARKER, SAMPLE_RATE, tone_frequency
from common.jobs import JobStore
from common.storage import get_storage
from common.storage.keys import chunks_prefix
from tests.integration.jobclient import decode, dominant_frequency, download, submit, wait_for

PARAGRAPH = ("春天来了，山上的雪慢慢融化，小河里的水也多了起来。村里的孩子们放学以后，总喜欢跑到河边去看鱼。"
             "老师说，大自然是最好的课堂，只要用心观察，就能学到很多书本上没有的知识！"
             "你知道为什么燕子每年都会飞回来吗？因为它们记得回家的路。")


def long_text(min_chars: int = 600) -> str:
    text = ""
    n = 0
    while len(text) < min_chars:
        n += 1
        text += f"第{n}段。" + PARAGRAPH + "\n"
    return text


def test_multi_chunk_job_merges_in_order(api_server, tone_worker, stack_settings):
    text = long_text(600)
    job = submit(api_server.url, {"text": text, "format": "wav", "metadata": {"book": "test"}})
    assert job["state"] == "queued" and job["progress"]["chunks_total"] > 10
    done = wait_for(api_server.url, job["id"])
    assert done["state"] == "succeeded", done
    assert done["progress"]["chunks_done"] == done["progress"]["chunks_total"]
    assert done["metadata"] == {"book": "test"}
    assert done["timings"]["total_seconds"] > 0 and done["expires_in"] > 0

    store = JobStore.from_url(stack_settings.redis_url)
    texts = store.chunk_texts(job["id"])
    infos = store.chunk_infos(job["id"])
    assert sorted(infos) == list(range(len(texts)))
    audio, rate = decode(download(done["result"]["url"]))
    assert rate == SAMPLE_RATE
    pause = stack_settings.pause_ms * rate // 1000
    frames = [infos[i]["frames"] for i in range(len(texts))]
    assert len(audio) == sum(frames) + pause * (len(texts) - 1)
    assert abs(done["result"]["audio_seconds"] - len(audio) / rate) < 1e-3

    offset = 0
    for index, chunk in enumerate(texts):
        segment = audio[offset:offset + frames[index]]
        assert abs(dominant_frequency(segment, rate) - tone_frequency(chunk)) < 2.0, f"chunk {index} out of order"
        offset += frames[index]
        if index < len(texts) - 1:
            assert float(abs(audio[offset:offset + pause]).max()) == 0.0
            offset += pause
    # chunk objects are cleaned up once merged; the result stays
    storage = get_storage(stack_settings)
    assert storage.list_keys(chunks_prefix(job["id"])) == []
    assert storage.exists(store.fetch(job["id"]).result_key)


def test_audio_endpoint_redirects_to_presigned_url(api_server, tone_worker):
    job = submit(api_server.url, {"text": "你好。世界真大。", "format": "flac"})
    assert wait_for(api_server.url, job["id"])["state"] == "succeeded"
    response = requests.get(f"{api_server.url}/v1/jobs/{job['id']}/audio", allow_redirects=False, timeout=30)
    assert response.status_code == 302
    assert "X-Amz-Signature" in response.headers["Location"]
    audio, rate = decode(download(response.headers["Location"]))
    assert rate == SAMPLE_RATE and len(audio) > 0


def test_every_format_decodes(api_server, tone_worker):
    text = "今天天气很好。我们一起去公园散步吧！路上有很多花。"
    jobs = {fmt: submit(api_server.url, {"text": text, "format": fmt})["id"] for fmt in ("wav", "flac", "mp3", "ogg")}
    for fmt, job_id in jobs.items():
        done = wait_for(api_server.url, job_id)
        assert done["state"] == "succeeded", (fmt, done)
        assert done["result"]["content_type"].startswith("audio/")
        audio, rate = decode(download(done["result"]["url"]))
        assert rate == SAMPLE_RATE
        # mp3/ogg frame counts are approximate (encoder delay and padding)
        assert abs(len(audio) / rate - done["result"]["audio_seconds"]) < 0.15, fmt


def test_failing_chunk_fails_the_job_with_reason(api_server, tone_worker, stack_settings):
    text = "第一句话没有问题。" * 6 + f"这一句包含{FAIL_MARKER}所以会失败。" + "后面的句子也没有问题。" * 6
    job = submit(api_server.url, {"text": text})
    done = wait_for(api_server.url, job["id"], timeout=60)
    assert done["state"] == "failed"
    assert "failed after 2 attempts" in done["error"] and FAIL_MARKER in done["error"]
    assert done["result"] is None
    response = requests.get(f"{api_server.url}/v1/jobs/{job['id']}/audio", timeout=30)
    assert response.status_code == 409 and response.json()["error"]["code"] == "job_not_ready"


def test_sync_tts_endpoint_returns_wav(api_server, tone_worker):
    response = requests.post(f"{api_server.url}/api/tts", json={"text": "欢迎致电客服中心。", "emotion": "neutral"},
                             timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "audio/wav"
    audio, rate = decode(response.content)
    assert rate == SAMPLE_RATE and len(audio) == len("欢迎致电客服中心。") * 1600


def test_healthz(api_server):
    response = requests.get(f"{api_server.url}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json()["checks"] == {"redis": "ok", "storage": "ok"}


def test_voices_listing(api_server):
    body = requests.get(f"{api_server.url}/v1/voices", timeout=10).json()
    assert body["engine"] == "tone" and body["default_voice"] == "tone-a"
    assert {v["id"] for v in body["voices"]} == {"tone-a", "tone-b"}
    assert body["emotions"][0] == {"id": "neutral", "label": "Neutral", "kind": "prosody"}
    assert set(body["formats"]) >= {"wav", "flac"} and body["limits"]["speed"] == [0.5, 2.0]


def test_text_preview_shows_spoken_form_and_chunks(api_server):
    response = requests.post(f"{api_server.url}/v1/text/preview",
                             json={"text": "2024年3月5日，气温-5℃，GDP增长了3.5%。[1]"}, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "二零二四年三月五日" in body["spoken"] and "负五摄氏度" in body["spoken"] and "百分之三点五" in body["spoken"]
    assert {"original": "3.5%", "spoken": "百分之三点五"} in body["changes"]
    assert "".join(body["chunks"]) == body["spoken"].replace(" ", "") and body["max_chunk_chars"] == 60
    for bad, status, field in (({"text": ""}, 400, "text"), ({"text": 5}, 400, "text"),
                               ({"text": "长" * 5001}, 413, "text"), ({"text": "x", "voice": "y"}, 400, "voice")):
        response = requests.post(f"{api_server.url}/v1/text/preview", json=bad, timeout=10)
        assert response.status_code == status and response.json()["error"]["field"] == field
