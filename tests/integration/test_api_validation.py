"""Every client mistake gets a 4xx JSON error naming the field, over real HTTP (never a 5xx)."""

from __future__ import annotations

import json

import pytest
import requests

JSON = {"Content-Type": "application/json"}

CASES = [
    # (name, path, raw body, headers, status, field)
    ("empty text", "/v1/jobs", {"text": ""}, JSON, 400, "text"),
    ("blank text", "/v1/jobs", {"text": " \n\u3000 "}, JSON, 400, "text"),
    ("missing text", "/v1/jobs", {"voice": "tone-a"}, JSON, 400, "text"),
    ("text not a string", "/v1/jobs", {"text": 123}, JSON, 400, "text"),
    ("nothing to speak", "/v1/jobs", {"text": "。。。！！"}, JSON, 400, "text"),
    ("unknown voice", "/v1/jobs", {"text": "你好。", "voice": "nobody"}, JSON, 400, "voice"),
    ("unknown emotion", "/v1/jobs", {"text": "你好。", "emotion": "furious"}, JSON, 400, "emotion"),
    ("unknown format", "/v1/jobs", {"text": "你好。", "format": "aac"}, JSON, 400, "format"),
    ("speed too low", "/v1/jobs", {"text": "你好。", "speed": 0.1}, JSON, 400, "speed"),
    ("speed too high", "/v1/jobs", {"text": "你好。", "speed": 3}, JSON, 400, "speed"),
    ("speed not a number", "/v1/jobs", {"text": "你好。", "speed": "fast"}, JSON, 400, "speed"),
    ("speed bool", "/v1/jobs", {"text": "你好。", "speed": True}, JSON, 400, "speed"),
    ("seed negative", "/v1/jobs", {"text": "你好。", "seed": -1}, JSON, 400, "seed"),
    ("metadata not object", "/v1/jobs", {"text": "你好。", "metadata": [1]}, JSON, 400, "metadata"),
    ("metadata too big", "/v1/jobs", {"text": "你好。", "metadata": {"x": "y" * 5000}}, JSON, 400, "metadata"),
    ("unknown field", "/v1/jobs", {"text": "你好。", "colour": "red"}, JSON, 400, "colour"),
    ("body not an object", "/v1/jobs", ["你好"], JSON, 400, "body"),
    ("malformed json", "/v1/jobs", b'{"text": "abc"', JSON, 400, "body"),
    ("not utf-8", "/v1/jobs", "{\"text\": \"\u4f60\"}".encode("gbk"), JSON, 400, "body"),
    ("wrong content type", "/v1/jobs", b"text=hello", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "Content-Type"),
    ("no content type", "/v1/jobs", b'{"text": "hi"}', {}, 415, "Content-Type"),
    ("sync text too long", "/api/tts", {"text": "长" * 301}, JSON, 413, "text"),
    ("sync non-wav format", "/api/tts", {"text": "你好。", "format": "mp3"}, JSON, 400, "format"),
    ("sync unknown emotion", "/api/tts", {"text": "你好。", "emotion": "sleepy"}, JSON, 400, "emotion"),
]


@pytest.mark.parametrize("name,path,body,headers,status,field", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_4xx_naming_the_field(api_server, name, path, body, headers, status, field):
    data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    response = requests.post(api_server.url + path, data=data, headers=headers, timeout=30)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status and error["field"] == field and error["message"]


def test_text_over_the_job_limit_is_413(api_server, stack_settings):
    text = "长" * (stack_settings.max_text_chars + 1)
    response = requests.post(api_server.url + "/v1/jobs", json={"text": text}, timeout=60)
    assert response.status_code == 413 and response.json()["error"]["field"] == "text"


def test_oversized_body_is_413(api_server, stack_settings):
    data = b'{"text": "' + b"a" * (stack_settings.max_body_bytes + 10) + b'"}'
    response = requests.post(api_server.url + "/v1/jobs", data=data, headers=JSON, timeout=60)
    assert response.status_code == 413 and response.json()["error"]["field"] == "body"


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/v1/jobs/does-not-exist", 404),
    ("GET", "/v1/jobs/does-not-exist/audio", 404),
    ("GET", "/no/such/route", 404),
    ("DELETE", "/healthz", 405),
    ("GET", "/api/tts", 405),
])
def test_unknown_resources_are_json_4xx(api_server, method, path, status):
    response = requests.request(method, api_server.url + path, timeout=30)
    assert response.status_code == status
    assert response.json()["error"]["status"] == status
