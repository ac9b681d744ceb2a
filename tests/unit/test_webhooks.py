"""Webhook signing and verification, the SSRF guard, the retry schedule and Retry-After (no services)."""

from __future__ import annotations

import base64
import random
from email.utils import formatdate

import pytest

from common.config import Settings
from common.errors import ValidationError
from common.engines.base import EngineInfo
from common.engines.tone import ToneEngine
from common.job_request import parse_job_request
from common.jobs import Job, JobStatus
from common.webhooks import (JITTER, Outcome, UnsafeUrl, WebhookVerificationError, build_event, check_url,
                             classify, encode_event, generate_secret, parse_retry_after, parse_schedule,
                             parse_secrets, retry_delay, sign, verify, webhook_headers)

NOW = 1_750_000_000
OLD, NEW = generate_secret(), generate_secret()


def _signed(secrets, body=b'{"type":"job.succeeded"}', msg_id="evt_1", timestamp=NOW):
    return body, webhook_headers(msg_id, timestamp, body, secrets)


def test_round_trip_returns_the_event():
    body, headers = _signed([NEW])
    assert verify(body, headers, NEW, now=NOW) == {"type": "job.succeeded"}
    assert headers["webhook-signature"].startswith("v1,")


def test_standard_webhooks_reference_vector():
    # the example of the Standard Webhooks spec's reference libraries
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, [secret]) == expected


def test_rotation_signs_with_every_secret_and_either_verifies():
    body, headers = _signed([NEW, OLD])
    assert len(headers["webhook-signature"].split()) == 2
    assert verify(body, headers, [OLD], now=NOW)
    assert verify(body, headers, [generate_secret(), NEW], now=NOW)
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify(body, headers, generate_secret(), now=NOW)


@pytest.mark.parametrize("tamper", ["body", "id", "timestamp", "signature"])
def test_tampering_is_detected(tamper):
    body, headers = _signed([NEW])
    headers = {k.title(): v for k, v in headers.items()}  # header case does not matter
    if tamper == "body":
        body = body.replace(b"succeeded", b"failed")
    elif tamper == "id":
        headers["Webhook-Id"] = "evt_2"
    elif tamper == "timestamp":
        headers["Webhook-Timestamp"] = str(NOW + 1)
    else:
        sig = base64.b64decode(headers["Webhook-Signature"][3:])
        headers["Webhook-Signature"] = "v1," + base64.b64encode(bytes([sig[0] ^ 1]) + sig[1:]).decode()
    with pytest.raises(WebhookVerificationError):
        verify(body, headers, NEW, now=NOW)


@pytest.mark.parametrize("offset,ok", [(0, True), (299, True), (-299, True), (301, False), (-301, False)])
def test_timestamp_tolerance_is_five_minutes(offset, ok):
    body, headers = _signed([NEW])
    if ok:
        assert verify(body, headers, NEW, now=NOW + offset)
    else:
        with pytest.raises(WebhookVerificationError, match="timestamp"):
            verify(body, headers, NEW, now=NOW + offset)


def test_missing_headers_and_bad_secrets():
    with pytest.raises(WebhookVerificationError, match="missing"):
        verify(b"{}", {}, NEW)
    with pytest.raises(ValueError, match="whsec_"):
        parse_secrets("sk_abc")
    with pytest.raises(ValueError, match="base64"):
        parse_secrets("whsec_not*base64")
    assert parse_secrets(f" {NEW}  {OLD} ") == [NEW, OLD]
    with pytest.raises(ValueError, match="TINGSHU_WEBHOOK_SECRETS"):
        Settings.from_env({"TINGSHU_WEBHOOK_SECRETS": "nope"})
    with pytest.raises(ValueError, match="TINGSHU_WEBHOOK_SCHEDULE"):
        Settings.from_env({"TINGSHU_WEBHOOK_SCHEDULE": "5,soon"})


def test_event_shape_carries_a_link_never_audio():
    job = Job(id="j1", state=JobStatus.SUCCEEDED, created_at=100.0, finished_at=112.5, audio_seconds=3.2,
              result_key="jobs/j1/result.wav")
    event = build_event(job, "evt_x", 113.0, "https://s3/j1?sig", 3713.0)
    assert event["type"] == "job.succeeded" and event["id"] == "evt_x"
    assert event["data"] == {"job_id": "j1", "state": "succeeded", "duration_seconds": 12.5, "audio_seconds": 3.2,
                             "error": None, "result": {"url": "https://s3/j1?sig",
                                                       "expires_at": "1970-01-01T01:01:53+00:00"}}
    failed = build_event(Job(id="j2", state=JobStatus.FAILED, error="boom"), "evt_y", 1.0)
    assert failed["type"] == "job.failed" and failed["data"]["error"] == "boom" and failed["data"]["result"] is None
    assert len(encode_event(event)) < 1000
    with pytest.raises(ValueError):
        build_event(Job(id="j3", state=JobStatus.RUNNING), "evt_z", 1.0)


REFUSED = [
    "http://127.0.0.1/hook", "http://localhost:8080/hook", "http://[::1]/", "http://0.0.0.0/",
    "http://10.1.2.3/", "http://172.16.0.1/", "http://192.168.1.1/", "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://[fe80::1]/",
    "http://224.0.0.1/", "http://240.0.0.1/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:10.0.0.1]/",
    "http://[2002:7f00:1::]/", "http://[2002:a9fe:a9fe::]/", "http://2130706433/", "http://[::]/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_ssrf_guard_refuses_internal_addresses(url):
    with pytest.raises(UnsafeUrl):
        check_url(url, "")


@pytest.mark.parametrize("url", ["ftp://8.8.8.8/", "file:///etc/passwd", "http:///x", "8.8.8.8",
                                 "http://8.8.8.8:99999/", "http://8.8.8.8/" + "a" * 2100, "http://8.8.8.8/a b"])
def test_malformed_urls_refused(url):
    with pytest.raises(UnsafeUrl):
        check_url(url)


def test_public_addresses_pass():
    assert check_url("https://8.8.8.8/hook") == ["8.8.8.8"]
    assert check_url("http://[2606:4700:4700::1111]:8443/x") == ["2606:4700:4700::1111"]


def test_allow_list_hosts_ips_and_cidrs_but_never_metadata():
    assert check_url("http://127.0.0.1:9000/hook", "127.0.0.1") == ["127.0.0.1"]
    assert check_url("http://10.9.8.7/", "10.0.0.0/8 192.168.0.0/16") == ["10.9.8.7"]
    assert check_url("http://localhost/", "LOCALHOST") == []
    with pytest.raises(UnsafeUrl):
        check_url("http://10.9.8.7/", "10.0.0.0/16")
    with pytest.raises(UnsafeUrl, match="metadata"):
        check_url("http://169.254.169.254/", "169.254.0.0/16")


def test_submit_validation_names_webhook_url():
    info = EngineInfo.of(ToneEngine())
    with pytest.raises(ValidationError) as exc:
        parse_job_request({"text": "你好。", "webhook_url": "http://127.0.0.1:1/h"}, Settings(), info)
    assert exc.value.field == "webhook_url"
    with pytest.raises(ValidationError) as exc:
        parse_job_request({"text": "你好。", "webhook_url": 5}, Settings(), info)
    assert exc.value.field == "webhook_url"
    allowed = Settings().replace(webhook_allow="127.0.0.1")
    req = parse_job_request({"text": "你好。", "webhook_url": "http://127.0.0.1:1/h"}, allowed, info)
    assert req.webhook_url == "http://127.0.0.1:1/h"


def test_schedule_and_jitter_bounds():
    schedule = parse_schedule(Settings().webhook_schedule)
    assert schedule == (5, 300, 1800, 7200, 18000, 36000, 36000)
    rng = random.Random(7)
    for attempt, base in enumerate(schedule, start=1):
        for _ in range(200):
            delay = retry_delay(attempt, schedule, rng)
            assert base * (1 - JITTER) <= delay <= base * (1 + JITTER)
    assert retry_delay(len(schedule) + 1, schedule) is None and retry_delay(0, schedule) is None
    assert parse_schedule("1, 1,2") == (1, 1, 2) and parse_schedule("") == ()
    with pytest.raises(ValueError):
        parse_schedule("-1")


def test_retry_after_seconds_and_http_date():
    assert parse_retry_after("120") == 120
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after(formatdate(NOW + 90, usegmt=True), now=NOW) == pytest.approx(90)
    assert parse_retry_after(formatdate(NOW - 90, usegmt=True), now=NOW) == 0
    assert parse_retry_after("99999999") == 24 * 3600


@pytest.mark.parametrize("status,outcome", [
    (200, Outcome.DELIVERED), (204, Outcome.DELIVERED), (410, Outcome.DISABLE), (429, Outcome.RETRY),
    (500, Outcome.RETRY), (503, Outcome.RETRY), (None, Outcome.RETRY), (400, Outcome.GIVE_UP),
    (404, Outcome.GIVE_UP), (301, Outcome.GIVE_UP),
])
def test_status_classification(status, outcome):
    assert classify(status) is outcome
