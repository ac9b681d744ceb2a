"""JobStore against a real redis-server: atomic transitions and idempotent progress."""

from __future__ import annotations

import threading

import pytest

from common.errors import InvalidJobOperation, JobNotFound
from common.jobs import Job, JobStatus, JobStore


@pytest.fixture
def store(redis_url):
    return JobStore.from_url(redis_url, ttl_seconds=600)


def make_job(store: JobStore, chunks: int = 5) -> Job:
    job = Job(id=store.new_id(), voice="v", format="wav", metadata={"k": "值"})
    return store.create(job, [f"第{i}块。" for i in range(chunks)])


def test_create_and_fetch_round_trip(store):
    job = make_job(store)
    again = store.fetch(job.id)
    assert again.state is JobStatus.QUEUED and again.chunk_count == 5 and again.metadata == {"k": "值"}
    assert store.chunk_texts(job.id, 1, 2) == ["第1块。", "第2块。"]
    assert store.ttl(job.id) is None


def test_missing_job(store):
    with pytest.raises(JobNotFound):
        store.fetch("nope")
    with pytest.raises(JobNotFound):
        store.mark_chunks_done("nope", {0: {}})


def test_progress_counts_each_chunk_once_and_starts_the_job(store):
    job = make_job(store)
    assert store.mark_chunks_done(job.id, {0: {"frames": 1}, 1: {"frames": 2}}) == 2
    assert store.mark_chunks_done(job.id, {1: {"frames": 2}}) == 2  # redelivered task
    fetched = store.fetch(job.id)
    assert fetched.state is JobStatus.RUNNING and fetched.chunks_done == 2 and fetched.started_at
    assert store.chunk_infos(job.id)[1] == {"frames": 2}


def test_concurrent_progress_is_atomic(store):
    job = make_job(store, chunks=200)

    def mark(indices):
        for i in indices:
            store.mark_chunks_done(job.id, {i: {}})

    threads = [threading.Thread(target=mark, args=(range(k, 200, 4),)) for k in range(4)]
    threads += [threading.Thread(target=mark, args=(range(0, 200),))]  # duplicates of all
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.fetch(job.id).chunks_done == 200


def test_final_job_never_goes_back(store):
    job = make_job(store)
    assert store.fail(job.id, "boom")
    assert not store.fail(job.id, "again")
    assert store.mark_chunks_done(job.id, {0: {}}) == -1
    with pytest.raises(InvalidJobOperation):
        store.transition(job.id, JobStatus.MERGING, [JobStatus.RUNNING])
    failed = store.fetch(job.id)
    assert failed.state is JobStatus.FAILED and failed.error == "boom"
    assert 0 < store.ttl(job.id) <= 600


def test_transition_sets_fields(store):
    job = make_job(store)
    previous = store.transition(job.id, JobStatus.MERGING, [JobStatus.QUEUED], merge_started_at=12.5)
    assert previous is JobStatus.QUEUED
    store.transition(job.id, JobStatus.SUCCEEDED, [JobStatus.MERGING], result_key="r", result_bytes=10)
    done = store.fetch(job.id)
    assert (done.state, done.result_key, done.result_bytes, done.merge_started_at) == (JobStatus.SUCCEEDED, "r", 10, 12.5)


def test_account_indexes_follow_the_lifecycle(store):
    job = Job(id=store.new_id(), account="acme")
    store.create(job, ["一。"])
    other = store.create(Job(id=store.new_id(), account="acme"), ["二。"])
    assert store.in_flight("acme") == 2 and store.in_flight("default") == 0
    store.fail(job.id, "x")
    assert store.in_flight("acme") == 1
    store.delete(other.id)
    assert store.in_flight("acme") == 0 and not store.exists(other.id)
    assert store.fetch(job.id).account == "acme"


def test_in_flight_limit_is_atomic(store):
    from common.errors import InFlightLimitReached

    results = []

    def submit():
        try:
            store.create(Job(id=store.new_id(), account="busy"), ["一。"], max_in_flight=3)
            results.append("ok")
        except InFlightLimitReached:
            results.append("refused")

    threads = [threading.Thread(target=submit) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 3 and store.in_flight("busy") == 3
