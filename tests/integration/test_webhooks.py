"""Signed webhooks end to end: API → Celery worker → a real HTTP receiver on loopback.

The stack has its own Redis database, a tone-engine worker consuming the ``webhooks`` queue,
a short retry schedule (1 s, 1 s, 2 s) and ``127.0.0.1`` on the SSRF allow-list.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest
import requests

from common.accounts import AccountStore
from common.engines.tone import FAIL_MARKER
from common.jobs import Job, JobStore
from common.webhooks import generate_secret, verify
from tests.integration.conftest import redis_db_url
from tests.integration.jobclient import decode, download, submit, wait_for
from tingshu.services import ApiThread, running_stack

WEBHOOK_DB = 8
SECRET = generate_secret()
OLD_SECRET = generate_secret()


class Receiver:
    """An ``http.server`` on 127.0.0.1 that records every POST and answers from a per-path script."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received: dict[str, list[dict]] = {}
        self.scripts: dict[str, list[int]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.received.setdefault(self.path, []).append(
                        {"headers": dict(self.headers.items()), "body": body, "at": time.time()})
                    script = receiver.scripts.get(self.path) or []
                    status = script.pop(0) if script else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def script(self, path: str, statuses: list[int]) -> str:
        """Answer the next requests to ``path`` with ``statuses`` (then 200); returns the URL."""
        with self.lock:
            self.scripts[path] = list(statuses)
        return self.url + path

    def requests_to(self, path: str, count: int = 1, timeout: float = 30) -> list[dict]:
        """Wait until ``count`` requests reached ``path``; return them all."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                got = list(self.received.get(path, []))
            if len(got) >= count or time.monotonic() >= deadline:
                return got
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def hook_settings(s3_session_settings, redis_server):
    import redis

    settings = s3_session_settings.replace(
        redis_url=redis_db_url(redis_server.url, WEBHOOK_DB), engine="tone", chunk_chars=60, chunks_per_task=2,
        chunk_retries=1, pause_ms=100, visibility_timeout=60, allow_anonymous=True,
        webhook_secrets=f"{SECRET} {OLD_SECRET}", webhook_allow="127.0.0.1", webhook_schedule="1,1,2",
    )
    client = redis.Redis.from_url(settings.redis_url)
    client.flushdb()
    yield settings
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def stack(hook_settings, tmp_path_factory) -> Iterator[ApiThread]:
    with running_stack(hook_settings, tmp_path_factory.mktemp("webhook-worker"), "webhooks", concurrency=2) as (api, _):
        yield api


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    try:
        yield server
    finally:
        server.stop()


def attempts(api: ApiThread, job_id: str, headers: dict | None = None) -> dict:
    response = requests.get(f"{api.url}/v1/jobs/{job_id}/webhooks", headers=headers or {}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def wait_attempts(api: ApiThread, job_id: str, count: int, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = attempts(api, job_id)["attempts"]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_succeeded_job_sends_one_verified_event(stack, receiver):
    url = receiver.script("/ok", [])
    job = submit(stack.url, {"text": "你好。世界真大。", "webhook_url": url})
    assert wait_for(stack.url, job["id"])["state"] == "succeeded"
    [hit] = receiver.requests_to("/ok")
    event = verify(hit["body"], hit["headers"], SECRET)
    assert verify(hit["body"], hit["headers"], [OLD_SECRET]) == event  # signed with both (rotation)
    assert event["type"] == "job.succeeded" and event["id"] == hit["headers"]["webhook-id"]
    assert event["id"].startswith("evt_") and abs(int(hit["headers"]["webhook-timestamp"]) - time.time()) < 30
    data = event["data"]
    assert data["job_id"] == job["id"] and data["state"] == "succeeded" and data["error"] is None
    assert data["duration_seconds"] > 0 and data["audio_seconds"] > 0
    assert "X-Amz-Signature" in data["result"]["url"] and data["result"]["expires_at"]
    audio, _rate = decode(download(data["result"]["url"]))
    assert abs(len(audio) / _rate - data["audio_seconds"]) < 1e-3
    time.sleep(1.5)
    assert len(receiver.requests_to("/ok", timeout=0)) == 1, "sent more than once"
    [attempt] = attempts(stack, job["id"])["attempts"]
    assert attempt["attempt"] == 1 and attempt["outcome"] == "delivered" and attempt["status_code"] == 200
    assert attempt["url"] == url and attempt["event_id"] == event["id"] and attempt["duration_seconds"] >= 0


def test_receiver_down_then_up_delivers_on_attempt_three(stack, receiver):
    url = receiver.script("/flaky", [503, 503])
    job = submit(stack.url, {"text": "重试测试。", "webhook_url": url})
    hits = receiver.requests_to("/flaky", count=3, timeout=40)
    assert len(hits) == 3
    assert len({h["headers"]["webhook-id"] for h in hits}) == 1  # same event, retried
    assert hits[1]["at"] - hits[0]["at"] >= 0.85 and hits[2]["at"] - hits[1]["at"] >= 0.85
    found = wait_attempts(stack, job["id"], 3)
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in found] == [
        (1, "retry", 503), (2, "retry", 503), (3, "delivered", 200)]
    assert found[0]["next_retry_at"] and found[2]["next_retry_at"] is None
    assert verify(hits[2]["body"], hits[2]["headers"], SECRET)["type"] == "job.succeeded"


def test_gone_disables_the_url_until_redelivered(stack, receiver):
    url = receiver.script("/gone", [410])
    first = submit(stack.url, {"text": "第一个任务。", "webhook_url": url})
    assert len(receiver.requests_to("/gone")) == 1
    [gone] = wait_attempts(stack, first["id"], 1)
    assert gone["outcome"] == "disabled" and gone["status_code"] == 410

    second = submit(stack.url, {"text": "第二个任务。", "webhook_url": url})
    assert wait_for(stack.url, second["id"])["state"] == "succeeded"
    [skipped] = wait_attempts(stack, second["id"], 1)
    assert skipped["outcome"] == "disabled" and "disabled" in skipped["error"] and skipped["status_code"] is None
    assert attempts(stack, second["id"])["disabled"]
    time.sleep(1.0)
    assert len(receiver.requests_to("/gone", timeout=0)) == 1, "sent to a disabled URL"

    # an explicit redelivery re-enables the URL and sends the same event again
    response = requests.post(f"{stack.url}/v1/jobs/{second['id']}/webhooks/redeliver", timeout=10)
    assert response.status_code == 202, response.text
    hits = receiver.requests_to("/gone", count=2)
    event = verify(hits[1]["body"], hits[1]["headers"], SECRET)
    assert event["id"] == response.json()["event_id"] == skipped["event_id"]
    assert wait_attempts(stack, second["id"], 2)[1]["outcome"] == "delivered"
    assert attempts(stack, second["id"])["disabled"] is None


def test_failed_job_sends_job_failed_with_the_error(stack, receiver):
    url = receiver.script("/failed", [])
    text = "第一句话没有问题。" * 3 + f"这一句包含{FAIL_MARKER}所以会失败。"
    job = submit(stack.url, {"text": text, "webhook_url": url})
    assert wait_for(stack.url, job["id"], timeout=60)["state"] == "failed"
    [hit] = receiver.requests_to("/failed")
    event = verify(hit["body"], hit["headers"], SECRET)
    assert event["type"] == "job.failed" and event["data"]["state"] == "failed"
    assert FAIL_MARKER in event["data"]["error"] and event["data"]["result"] is None
    time.sleep(1.5)  # the chunk failure and the chord error callback both ended the job: one event
    assert len(receiver.requests_to("/failed", timeout=0)) == 1


def test_canceled_job_sends_job_canceled_once(stack, receiver):
    url = receiver.script("/canceled", [])
    text = "".join(f"第{i}句话会被取消，所以不会全部合成。" for i in range(40))
    job = submit(stack.url, {"text": text, "webhook_url": url})
    response = requests.post(f"{stack.url}/v1/jobs/{job['id']}/cancel", timeout=10)
    assert response.status_code == 200 and response.json()["state"] == "canceled"
    [hit] = receiver.requests_to("/canceled")
    event = verify(hit["body"], hit["headers"], SECRET)
    assert event["type"] == "job.canceled" and event["data"]["state"] == "canceled"
    time.sleep(1.5)  # the skipped tasks and the merge callback see the final state: still one event
    assert len(receiver.requests_to("/canceled", timeout=0)) == 1


def test_account_default_url_is_used(stack, receiver, hook_settings):
    url = receiver.script("/acme-default", [])
    accounts = AccountStore.from_url(hook_settings.redis_url)
    accounts.save_account("acme", webhook_url=url)
    _key, secret = accounts.create_key("acme")
    auth = {"Authorization": f"Bearer {secret}"}
    response = requests.post(f"{stack.url}/v1/jobs", json={"text": "默认地址。"}, headers=auth, timeout=30)
    assert response.status_code == 202, response.text
    [hit] = receiver.requests_to("/acme-default")
    assert verify(hit["body"], hit["headers"], SECRET)["data"]["job_id"] == response.json()["id"]
    # another account's job is not found
    other = submit(stack.url, {"text": "别人的任务。"})
    assert requests.get(f"{stack.url}/v1/jobs/{other['id']}/webhooks", headers=auth, timeout=10).status_code == 404
    assert attempts(stack, other["id"]) == {"job_id": other["id"], "webhook_url": None, "disabled": None,
                                            "attempts": []}


def test_redeliver_needs_a_final_job_with_a_url(stack, hook_settings):
    store = JobStore.from_url(hook_settings.redis_url)
    pending = store.create(Job(id=store.new_id(), webhook_url="http://127.0.0.1:1/x"), ["你好。"])
    response = requests.post(f"{stack.url}/v1/jobs/{pending.id}/webhooks/redeliver", timeout=10)
    assert response.status_code == 409 and response.json()["error"]["code"] == "job_not_final"
    plain = submit(stack.url, {"text": "没有回调。"})
    assert wait_for(stack.url, plain["id"])["state"] == "succeeded"
    response = requests.post(f"{stack.url}/v1/jobs/{plain['id']}/webhooks/redeliver", timeout=10)
    assert response.status_code == 400 and response.json()["error"]["field"] == "webhook_url"


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://169.254.169.254/latest/meta-data/",
                                 "http://[::ffff:127.0.0.1]/", "ftp://example.com/"])
def test_ssrf_refused_at_submit_without_allow_list(hook_settings, url):
    api = ApiThread(hook_settings.replace(webhook_allow="")).start()
    try:
        response = requests.post(f"{api.url}/v1/jobs", json={"text": "你好。", "webhook_url": url}, timeout=10)
    finally:
        api.stop()
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == "webhook_url"


def test_metadata_address_refused_even_when_its_network_is_allowed(hook_settings):
    api = ApiThread(hook_settings.replace(webhook_allow="169.254.0.0/16")).start()
    try:
        response = requests.post(f"{api.url}/v1/jobs", timeout=10,
                                 json={"text": "你好。", "webhook_url": "http://169.254.169.254/latest/meta-data/"})
    finally:
        api.stop()
    assert response.status_code == 400 and response.json()["error"]["field"] == "webhook_url"
    assert "metadata" in response.json()["error"]["message"]
