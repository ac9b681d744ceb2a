"""Request validation shared by the API and the CLI: every problem names its field."""

import pytest

from common.config import Settings
from common.engines.base import EngineInfo
from common.engines.tone import ToneEngine
from common.errors import TextTooLong, ValidationError
from common.job_request import parse_job_request

INFO = EngineInfo.of(ToneEngine())
SETTINGS = Settings().replace(max_text_chars=50)


def test_defaults_filled_in():
    req = parse_job_request({"text": "你好。"}, SETTINGS, INFO)
    assert (req.voice, req.emotion, req.speed, req.format) == ("tone-a", "neutral", 1.0, "wav")
    assert 0 <= req.seed < 2**31 - 1 and req.metadata == {}


def test_integer_speed_accepted_and_format_case_folded():
    req = parse_job_request({"text": "你好。", "speed": 2, "format": "MP3"}, SETTINGS, INFO)
    assert req.speed == 2.0 and req.format == "mp3"


@pytest.mark.parametrize("payload,field", [
    ({}, "text"), ({"text": None}, "text"), ({"text": ""}, "text"),
    ({"text": "x", "voice": 3}, "voice"), ({"text": "x", "voice": "z"}, "voice"),
    ({"text": "x", "emotion": "z"}, "emotion"), ({"text": "x", "speed": 2.5}, "speed"),
    ({"text": "x", "speed": "1"}, "speed"), ({"text": "x", "format": "wma"}, "format"),
    ({"text": "x", "seed": 2**31}, "seed"), ({"text": "x", "seed": 1.5}, "seed"),
    ({"text": "x", "metadata": "m"}, "metadata"), ({"text": "x", "extra": 1}, "extra"),
])
def test_bad_fields(payload, field):
    with pytest.raises(ValidationError) as err:
        parse_job_request(payload, SETTINGS, INFO)
    assert err.value.field == field


def test_limits():
    with pytest.raises(TextTooLong):
        parse_job_request({"text": "长" * 51}, SETTINGS, INFO)
    with pytest.raises(TextTooLong):
        parse_job_request({"text": "长" * 11}, SETTINGS, INFO, max_chars=10)
    with pytest.raises(ValidationError) as err:
        parse_job_request(["x"], SETTINGS, INFO)
    assert err.value.field == "body"
