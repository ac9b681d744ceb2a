"""Both storage backends against real services: a temp directory and a SeaweedFS S3 server."""

from __future__ import annotations

import os
import threading
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from common.config import Settings
from common.errors import StorageError
from common.storage import ObjectNotFound, Storage, get_storage, keys
from common.storage.local import TMP_SUFFIX, LocalStorage
from common.storage.s3 import MIB, S3Storage
from tingshu.services import free_port


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest) -> Storage:
    """Each backend, ready and empty."""
    fixture = "tmp_local_settings" if request.param == "local" else "s3_settings"
    backend = get_storage(request.getfixturevalue(fixture))
    backend.ensure_ready()
    return backend


def _s3(settings: Settings, **changes) -> S3Storage:
    backend = get_storage(settings.replace(**changes) if changes else settings)
    assert isinstance(backend, S3Storage)
    return backend


def test_key_helpers():
    assert keys.job_prefix("abc") == "jobs/abc/"
    assert keys.chunk_key("abc", 7) == "jobs/abc/chunks/000007.flac"
    assert keys.chunk_key("abc", 7).startswith(keys.chunks_prefix("abc"))
    assert keys.result_key("abc", "mp3") == "jobs/abc/result.mp3"
    for bad in ("", "a/b", "..", "a b"):
        with pytest.raises(ValueError):
            keys.job_prefix(bad)
    with pytest.raises(ValueError):
        keys.chunk_key("abc", -1)
    with pytest.raises(ValueError):
        keys.result_key("abc", "../x")


def test_get_storage_picks_backend(tmp_local_settings):
    assert isinstance(get_storage(tmp_local_settings), LocalStorage)
    s3_settings = tmp_local_settings.replace(storage="s3", s3_endpoint="http://127.0.0.1:1")
    assert isinstance(get_storage(s3_settings), S3Storage)


def test_put_get_exists_size_list_delete(storage: Storage):
    job = uuid.uuid4().hex
    for i in range(3):
        storage.put_bytes(keys.chunk_key(job, i), bytes([i]) * (i + 1))
    storage.put_bytes(keys.result_key(job, "wav"), b"RIFF....")
    storage.put_bytes("jobs/other/chunks/000000.flac", b"x")

    assert storage.get_bytes(keys.chunk_key(job, 2)) == b"\x02\x02\x02"
    assert storage.exists(keys.chunk_key(job, 0))
    assert not storage.exists(keys.chunk_key(job, 9))
    assert storage.size(keys.chunk_key(job, 1)) == 2
    assert storage.list_keys(keys.chunks_prefix(job)) == [keys.chunk_key(job, i) for i in range(3)]
    assert storage.list_keys(keys.job_prefix(job)) == [
        *(keys.chunk_key(job, i) for i in range(3)), keys.result_key(job, "wav")]
    assert storage.list_keys("jobs/nothing-here/") == []

    storage.put_bytes(keys.chunk_key(job, 0), b"overwritten")
    assert storage.get_bytes(keys.chunk_key(job, 0)) == b"overwritten"

    storage.delete(keys.result_key(job, "wav"))
    storage.delete(keys.result_key(job, "wav"))  # deleting a missing key is fine
    assert not storage.exists(keys.result_key(job, "wav"))
    assert storage.delete_prefix(keys.job_prefix(job)) == 3
    assert storage.list_keys(keys.job_prefix(job)) == []
    assert storage.list_keys("jobs/") == ["jobs/other/chunks/000000.flac"]


def test_files_and_streams(storage: Storage, tmp_path: Path):
    payload = os.urandom(300_000)
    src = tmp_path / "src.bin"
    src.write_bytes(payload)
    storage.put_file("jobs/f/result.flac", src, content_type="audio/flac")
    dest = tmp_path / "sub" / "dest.bin"
    dest.parent.mkdir()
    storage.download_file("jobs/f/result.flac", dest)
    assert dest.read_bytes() == payload
    with storage.open_read("jobs/f/result.flac") as stream:
        assert stream.read(10) == payload[:10]
        assert stream.read() == payload[10:]


def test_missing_key_is_object_not_found(storage: Storage, tmp_path: Path):
    key = "jobs/missing/result.wav"
    for call in (storage.get_bytes, storage.size, storage.open_read,
                 lambda k: storage.download_file(k, tmp_path / "out")):
        with pytest.raises(ObjectNotFound):
            call(key)
    assert not (tmp_path / "out").exists()
    assert issubclass(ObjectNotFound, StorageError)


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "jobs/../../escape", "a//b",
                                 "jobs/./x", "", "a\\b"])
def test_bad_keys_refused(storage: Storage, key: str):
    with pytest.raises(ValueError):
        storage.put_bytes(key, b"x")
    with pytest.raises(ValueError):
        storage.exists(key)


def test_local_symlink_escape_refused(tmp_local_settings, tmp_path: Path):
    storage = get_storage(tmp_local_settings)
    storage.ensure_ready()
    outside = tmp_path / "outside"
    outside.mkdir()
    (Path(tmp_local_settings.local_dir) / "link").symlink_to(outside)
    with pytest.raises(ValueError, match="escapes"):
        storage.put_bytes("link/x", b"x")
    assert not (outside / "x").exists()


def test_local_writes_are_atomic(tmp_local_settings, tmp_path: Path, monkeypatch):
    storage = get_storage(tmp_local_settings)
    storage.ensure_ready()
    storage.put_bytes("jobs/a/result.wav", b"old")
    src = tmp_path / "big.bin"
    src.write_bytes(b"n" * 100_000)

    def dying_copy(fsrc, fdst, length=0):
        fdst.write(fsrc.read(10))
        raise KeyboardInterrupt  # the process is being killed mid-copy

    monkeypatch.setattr("common.storage.local.shutil.copyfileobj", dying_copy)
    with pytest.raises(KeyboardInterrupt):
        storage.put_file("jobs/a/result.wav", src)
    assert storage.get_bytes("jobs/a/result.wav") == b"old"
    leftovers = [p for p in Path(storage.root).rglob("*") if p.name.endswith(TMP_SUFFIX)]
    assert leftovers == []

    # A temp file left by a SIGKILL is invisible to listings and removed with its job.
    (Path(storage.root) / "jobs" / "a" / f".result.wav.x{TMP_SUFFIX}").write_bytes(b"half")
    assert storage.list_keys("jobs/a/") == ["jobs/a/result.wav"]
    assert storage.delete_prefix("jobs/a/") == 1
    assert not (Path(storage.root) / "jobs").exists()


def test_local_presign_and_path(tmp_local_settings):
    storage = get_storage(tmp_local_settings)
    storage.put_bytes("jobs/p/result.wav", b"abc")
    assert storage.presigned_url("jobs/p/result.wav", filename="x.wav") is None
    assert storage.local_path("jobs/p/result.wav").read_bytes() == b"abc"
    with pytest.raises(ObjectNotFound):
        storage.local_path("jobs/p/none.wav")


def test_s3_multipart_upload_above_threshold(s3_settings, tmp_path: Path):
    storage = _s3(s3_settings, s3_multipart_threshold_mb=5)
    big = tmp_path / "big.flac"
    payload = os.urandom(12 * MIB + 123)
    big.write_bytes(payload)
    storage.put_file("jobs/m/result.flac", big)
    head = storage.client.head_object(Bucket=storage.bucket, Key="jobs/m/result.flac")
    assert head["ETag"].strip('"').endswith("-3")  # 5 + 5 + 2 MiB parts
    assert head["ContentType"] == "audio/flac"
    assert storage.size("jobs/m/result.flac") == len(payload)
    out = tmp_path / "out.flac"
    storage.download_file("jobs/m/result.flac", out)
    assert out.read_bytes() == payload

    small = tmp_path / "small.wav"
    small.write_bytes(os.urandom(MIB))
    storage.put_file("jobs/m/result.wav", small)
    head = storage.client.head_object(Bucket=storage.bucket, Key="jobs/m/result.wav")
    assert "-" not in head["ETag"] and head["ContentType"] == "audio/wav"


def test_s3_presigned_url_with_plain_http(s3_settings):
    storage = _s3(s3_settings)
    storage.put_bytes("jobs/u/result.mp3", b"ID3-fake-mp3")
    url = storage.presigned_url("jobs/u/result.mp3", expires_seconds=60)
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"ID3-fake-mp3"
        assert response.headers["Content-Type"] == "audio/mpeg"

    url = storage.presigned_url("jobs/u/result.mp3", filename="第一章 test.mp3")
    with urllib.request.urlopen(url, timeout=10) as response:
        disposition = response.headers["Content-Disposition"]
        assert response.read() == b"ID3-fake-mp3"
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''" + urllib.parse.quote("第一章 test.mp3", safe="") in disposition

    with pytest.raises(urllib.error.HTTPError) as info:  # unsigned access is refused
        urllib.request.urlopen(url.split("?")[0], timeout=10)
    info.value.close()
    assert info.value.code == 403


def test_s3_wrong_credentials_raise_storage_error(s3_settings):
    for changes in ({"s3_secret_key": "wrong-secret"}, {"s3_access_key": "nobody"}):
        storage = _s3(s3_settings, **changes)
        with pytest.raises(StorageError) as info:
            storage.put_bytes("jobs/c/result.wav", b"x")
        assert not isinstance(info.value, ObjectNotFound)
        with pytest.raises(StorageError):
            storage.get_bytes("jobs/c/result.wav")
        with pytest.raises(StorageError, match="head_bucket"):
            storage.ensure_bucket()
    assert not _s3(s3_settings).exists("jobs/c/result.wav")


def test_s3_unreachable_endpoint_raises_storage_error(s3_settings):
    storage = _s3(s3_settings, s3_endpoint=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StorageError, match="failed"):
        storage.put_bytes("jobs/x/result.wav", b"x")


def test_s3_delete_prefix_paginates_and_batches(s3_settings):
    storage = _s3(s3_settings)
    storage.page_size = 7
    storage.delete_batch = 10
    calls = {"ListObjectsV2": 0, "DeleteObjects": 0}

    def count(model, **_):
        calls[model.name] += 1

    for op in calls:
        storage.client.meta.events.register(f"before-call.s3.{op}", count)
    for i in range(25):
        storage.put_bytes(keys.chunk_key("pg", i), b"c")
    storage.put_bytes(keys.chunk_key("keep", 0), b"k")
    assert len(storage.list_keys(keys.job_prefix("pg"))) == 25
    calls.update(ListObjectsV2=0)
    assert storage.delete_prefix(keys.job_prefix("pg")) == 25
    assert calls == {"ListObjectsV2": 4, "DeleteObjects": 3}
    assert storage.list_keys("jobs/") == [keys.chunk_key("keep", 0)]


def test_s3_ensure_bucket_creates_missing_bucket_concurrently(s3_settings):
    name = f"tingshu-race-{uuid.uuid4().hex[:8]}"
    backends = [_s3(s3_settings, s3_bucket=name) for _ in range(6)]
    errors: list[BaseException] = []

    def run(backend: S3Storage) -> None:
        try:
            backend.ensure_bucket()
        except BaseException as exc:  # collected and re-checked below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(b,)) for b in backends]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        backends[0].ensure_bucket()  # idempotent
        backends[0].put_bytes("k/x", b"1")
        assert backends[1].get_bytes("k/x") == b"1"
    finally:
        backends[0].delete_prefix("")
        backends[0].client.delete_bucket(Bucket=name)


def test_s3_missing_bucket_is_a_clear_error(s3_settings):
    storage = _s3(s3_settings, s3_bucket=f"tingshu-none-{uuid.uuid4().hex[:8]}")
    with pytest.raises(StorageError, match="bucket does not exist"):
        storage.get_bytes("jobs/x/result.wav")
