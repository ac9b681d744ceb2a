"""Settings from the environment: types parsed, bad values named, round trip through env."""

import pytest

from common.config import SETTINGS_DOC, Settings


def test_defaults_and_parsing():
    s = Settings.from_env({"TINGSHU_CHUNK_CHARS": "40", "TINGSHU_FP16": "off", "TINGSHU_STORAGE": "s3",
                           "AWS_ACCESS_KEY_ID": "ak", "AWS_SECRET_ACCESS_KEY": "sk"})
    assert (s.chunk_chars, s.fp16, s.storage, s.s3_access_key, s.s3_secret_key) == (40, False, "s3", "ak", "sk")
    assert Settings.from_env({}).engine == "bundled"


@pytest.mark.parametrize("env,needle", [
    ({"TINGSHU_CHUNK_CHARS": "many"}, "TINGSHU_CHUNK_CHARS must be an integer"),
    ({"TINGSHU_FP16": "maybe"}, "TINGSHU_FP16 must be a boolean"),
    ({"TINGSHU_STORAGE": "ftp"}, "TINGSHU_STORAGE must be"),
    ({"TINGSHU_CHUNK_CHARS": "0"}, "TINGSHU_CHUNK_CHARS must be > 0"),
])
def test_bad_values_name_the_variable(env, needle):
    with pytest.raises(ValueError, match=needle):
        Settings.from_env(env)


def test_round_trip_through_env():
    s = Settings().replace(engine="tone", fp16=False, chunk_chars=33, s3_endpoint="http://x")
    assert Settings.from_env(s.to_env()) == s


def test_every_setting_is_documented():
    assert set(SETTINGS_DOC) == set(Settings.__dataclass_fields__)


def test_readme_settings_table_is_current():
    from pathlib import Path

    from common.config import settings_table

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- settings-table:start -->") + len("<!-- settings-table:start -->")
    end = readme.index("<!-- settings-table:end -->")
    assert readme[start:end].strip() == settings_table(), "regenerate with: tingshu config --markdown"
