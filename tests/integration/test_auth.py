"""API keys, tenant isolation, per-account limits and ``Idempotency-Key``, over real HTTP.

Own stack on Redis db 9 (``allow_anonymous=False``); a tone-engine worker runs only for the
tests whose jobs must finish. Every test makes fresh accounts, so nothing is flushed while the
worker runs.
"""

from __future__ import annotations

import threading
import uuid

import pytest
import redis
import requests

from common.accounts import AccountStore
from common.idempotency import IdempotencyStore, fingerprint
from common.jobs import account_jobs_key
from tests.integration.conftest import redis_db_url
from tingshu.services import ApiThread, CeleryWorkerProcess

AUTH_DB = 9
FINAL = {"succeeded", "failed", "canceled"}
HELLO = {"text": "你好，世界。", "format": "wav"}


@pytest.fixture(scope="module")
def auth_settings(s3_session_settings, redis_server):
    settings = s3_session_settings.replace(redis_url=redis_db_url(redis_server.url, AUTH_DB), engine="tone",
                                           chunk_chars=60, chunks_per_task=2, allow_anonymous=False,
                                           default_rate_per_minute=600, default_max_in_flight=20)
    redis.Redis.from_url(settings.redis_url).flushdb()
    return settings


@pytest.fixture(scope="module")
def api(auth_settings):
    server = ApiThread(auth_settings).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def worker(auth_settings, tmp_path_factory):
    process = CeleryWorkerProcess(auth_settings, tmp_path_factory.mktemp("auth-worker"), concurrency=1, name="auth",
                                  extra_env={"TINGSHU_TONE_DELAY_PER_CHAR": "0.02"}).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def accounts(auth_settings):
    return AccountStore.from_url(auth_settings.redis_url)


@pytest.fixture
def make_account(accounts):
    """Make a fresh account (with the limits given) and a key; returns (account id, auth headers)."""

    def make(**limits) -> tuple[str, dict[str, str]]:
        account_id = f"acct-{uuid.uuid4().hex[:10]}"
        accounts.save_account(account_id, **limits)
        _, secret = accounts.create_key(account_id)
        return account_id, {"Authorization": f"Bearer {secret}"}

    return make


def post_job(api, headers, payload=HELLO, **extra) -> requests.Response:
    return requests.post(f"{api.url}/v1/jobs", json=payload, headers={**headers, **extra}, timeout=30)


def wait_final(api, headers, job_id, timeout=60.0) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while True:
        job = requests.get(f"{api.url}/v1/jobs/{job_id}", headers=headers, timeout=30).json()
        if job["state"] in FINAL or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def jobs_of(auth_settings, account: str) -> int:
    return redis.Redis.from_url(auth_settings.redis_url).zcard(account_jobs_key(account))


# --- authentication -------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("POST", "/v1/jobs"), ("GET", "/v1/jobs"), ("GET", "/v1/jobs/x"), ("GET", "/v1/jobs/x/audio"),
    ("DELETE", "/v1/jobs/x"), ("GET", "/v1/voices"), ("POST", "/api/tts"),
])
def test_no_key_is_401_with_a_bearer_challenge(api, method, path):
    response = requests.request(method, api.url + path, json=HELLO, timeout=30)
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["field"] == "Authorization"


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/openapi.json"])
def test_public_routes_need_no_key(api, path):
    assert requests.get(api.url + path, timeout=30).status_code == 200


def test_bad_and_revoked_keys_are_401(api, accounts, make_account):
    account, headers = make_account()
    assert requests.get(f"{api.url}/v1/voices", headers=headers, timeout=30).status_code == 200
    secret = headers["Authorization"].split()[1]
    for value in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer tsk_not-a-real-key", secret):
        response = requests.get(f"{api.url}/v1/voices", headers={"Authorization": value}, timeout=30)
        assert response.status_code == 401, value
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    accounts.revoke_key(secret[:20])
    response = requests.get(f"{api.url}/v1/voices", headers=headers, timeout=30)
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]


# --- isolation -------------------------------------------------------------------------------

def _job_routes(app):
    """(method, rule) of every route that takes a ``job_id``, colleagues' routes included."""
    for rule in app.url_map.iter_rules():
        if "job_id" in rule.arguments:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, rule


def test_another_accounts_job_is_404_on_every_job_route(api, worker, make_account):
    _, a = make_account()
    _, b = make_account()
    job_id = post_job(api, a).json()["id"]
    assert wait_final(api, a, job_id)["state"] == "succeeded"
    adapter = api.app.url_map.bind("localhost")
    routes = list(_job_routes(api.app))
    assert {r.rule for _, r in routes} >= {"/v1/jobs/<job_id>", "/v1/jobs/<job_id>/audio"}
    for method, rule in routes:
        path = adapter.build(rule.endpoint, {"job_id": job_id}, method=method)
        response = requests.request(method, api.url + path, headers=b, json={}, allow_redirects=False, timeout=30)
        assert response.status_code == 404, (method, rule.rule, response.text)
        assert job_id not in response.text.replace(f"no job with id {job_id}", "")
    # nothing B tried (cancel, delete, ...) touched the job
    owner_view = requests.get(f"{api.url}/v1/jobs/{job_id}", headers=a, timeout=30)
    assert owner_view.status_code == 200 and owner_view.json()["state"] == "succeeded"
    audio = requests.get(f"{api.url}/v1/jobs/{job_id}/audio", headers=a, allow_redirects=False, timeout=30)
    assert audio.status_code in (200, 302)
    listed_b = requests.get(f"{api.url}/v1/jobs", headers=b, timeout=30)
    assert listed_b.status_code == 200 and job_id not in listed_b.text
    assert job_id in requests.get(f"{api.url}/v1/jobs", headers=a, timeout=30).text


# --- limits ----------------------------------------------------------------------------------

def test_text_over_the_accounts_limit_is_413_naming_text(api, make_account):
    _, headers = make_account(max_text_chars=10)
    for path in ("/v1/jobs", "/api/tts"):
        response = requests.post(api.url + path, json={"text": "长" * 11}, headers=headers, timeout=30)
        assert response.status_code == 413, response.text
        error = response.json()["error"]
        assert error["field"] == "text" and "limit is 10" in error["message"]
    assert post_job(api, headers, {"text": "长" * 10}).status_code == 202


def test_in_flight_limit_is_429_until_a_job_finishes(api, worker, make_account):
    account, headers = make_account(max_in_flight=1)
    first = post_job(api, headers, {"text": "第一个任务要慢慢合成完。"})
    assert first.status_code == 202
    refused = post_job(api, headers, {"text": "第二个任务。"})
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["Retry-After"]) >= 1 and "limit is 1" in refused.json()["error"]["message"]
    assert wait_final(api, headers, first.json()["id"])["state"] == "succeeded"
    assert post_job(api, headers, {"text": "第二个任务。"}).status_code == 202


def test_request_rate_is_429_with_retry_after(api, make_account):
    _, headers = make_account(rate_per_minute=3)
    _, other = make_account(rate_per_minute=3)
    remaining = []
    for _ in range(3):
        response = requests.get(f"{api.url}/v1/jobs/nope", headers=headers, timeout=30)
        assert response.status_code == 404
        assert response.headers["RateLimit-Limit"] == "3"
        remaining.append(response.headers["RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    limited = requests.get(f"{api.url}/v1/jobs/nope", headers=headers, timeout=30)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 20
    assert limited.headers["RateLimit-Remaining"] == "0" and int(limited.headers["RateLimit-Reset"]) >= 1
    assert requests.get(f"{api.url}/v1/jobs/nope", headers=other, timeout=30).status_code == 404  # per account


# --- idempotency -----------------------------------------------------------------------------

def test_same_key_same_body_replays_the_original_job(api, auth_settings, make_account):
    account, headers = make_account()
    first = post_job(api, headers, HELLO, **{"Idempotency-Key": "order-1"})
    assert first.status_code == 202 and "Idempotent-Replayed" not in first.headers
    again = post_job(api, headers, {"format": "wav", "text": "你好，世界。"}, **{"Idempotency-Key": "order-1"})
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and again.headers["Location"] == first.headers["Location"]
    quoted = post_job(api, headers, HELLO, **{"Idempotency-Key": '"order-1"'})  # structured-field string
    assert quoted.json()["id"] == first.json()["id"]
    assert jobs_of(auth_settings, account) == 1


def test_same_key_different_body_is_422(api, make_account):
    _, headers = make_account()
    assert post_job(api, headers, HELLO, **{"Idempotency-Key": "k"}).status_code == 202
    response = post_job(api, headers, {"text": "别的内容。"}, **{"Idempotency-Key": "k"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "Idempotency-Key"


def test_same_key_while_the_first_is_processing_is_409(api, auth_settings, make_account):
    account, headers = make_account()
    store = IdempotencyStore(redis.Redis.from_url(auth_settings.redis_url, decode_responses=True), ttl_seconds=60)
    store.mark_processing(account, "busy", fingerprint(HELLO))
    response = post_job(api, headers, HELLO, **{"Idempotency-Key": "busy"})
    assert response.status_code == 409 and response.json()["error"]["field"] == "Idempotency-Key"
    assert "Retry-After" in response.headers
    assert jobs_of(auth_settings, account) == 0


def test_concurrent_duplicates_make_one_job(api, auth_settings, make_account):
    account, headers = make_account()
    barrier, results = threading.Barrier(8), []

    def fire() -> None:
        barrier.wait()
        results.append(post_job(api, headers, HELLO, **{"Idempotency-Key": "race"}))

    threads = [threading.Thread(target=fire) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    originals = [r for r in results if r.status_code == 202 and "Idempotent-Replayed" not in r.headers]
    assert len(originals) == 1, [(r.status_code, r.text) for r in results]
    for r in results:
        assert r.status_code == 409 or r.json()["id"] == originals[0].json()["id"], r.text
    assert jobs_of(auth_settings, account) == 1


def test_keys_are_scoped_per_account_and_failures_free_them(api, make_account):
    _, a = make_account()
    _, b = make_account()
    job_a = post_job(api, a, HELLO, **{"Idempotency-Key": "shared"}).json()["id"]
    job_b = post_job(api, b, HELLO, **{"Idempotency-Key": "shared"}).json()["id"]
    assert job_a != job_b
    bad = post_job(api, a, {"text": ""}, **{"Idempotency-Key": "retry-me"})
    assert bad.status_code == 400
    assert post_job(api, a, HELLO, **{"Idempotency-Key": "retry-me"}).status_code == 202


@pytest.mark.parametrize("key", ["", "x" * 256, '""', "cl\u00e9"])
def test_empty_long_or_non_ascii_key_is_400(api, make_account, key):
    _, headers = make_account()
    response = post_job(api, headers, HELLO, **{"Idempotency-Key": key})
    assert response.status_code == 400 and response.json()["error"]["field"] == "Idempotency-Key"


# --- anonymous mode --------------------------------------------------------------------------

def test_anonymous_mode_only_when_enabled(api, auth_settings, make_account):
    _, a = make_account()
    job_a = post_job(api, a).json()["id"]
    assert post_job(api, {}).status_code == 401  # off by default
    anonymous = ApiThread(auth_settings.replace(allow_anonymous=True)).start()
    try:
        response = post_job(anonymous, {})
        assert response.status_code == 202, response.text
        mine = requests.get(f"{anonymous.url}/v1/jobs/{response.json()['id']}", timeout=30)
        assert mine.status_code == 200 and "RateLimit-Limit" in mine.headers  # defaults apply
        assert requests.get(f"{anonymous.url}/v1/jobs/{job_a}", timeout=30).status_code == 404
        assert requests.get(f"{anonymous.url}/v1/jobs/{job_a}", headers=a, timeout=30).status_code == 200
        bad = requests.get(f"{anonymous.url}/v1/voices", headers={"Authorization": "Bearer tsk_wrong"}, timeout=30)
        assert bad.status_code == 401  # a key, when sent, is still checked
    finally:
        anonymous.stop()
