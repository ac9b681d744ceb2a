"""``tingshu keys`` and the Redis stores behind it (accounts, keys, rate limit, idempotency), on a real Redis."""

from __future__ import annotations

import re

import pytest
import redis

from common.accounts import AccountStore, hash_secret
from common.config import Settings
from common.idempotency import IdempotencyRecord, IdempotencyStore, fingerprint
from common.ratelimit import RateLimiter
from tingshu.cli import main

KEY_RE = re.compile(r"^tsk_[A-Za-z0-9_-]{40,}$", re.M)


@pytest.fixture
def cli(redis_url, monkeypatch, capsys):
    """Run ``tingshu`` in-process against the test Redis: returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("TINGSHU_REDIS_URL", redis_url)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def conn(redis_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def _key_from(out: str) -> str:
    match = KEY_RE.search(out)
    assert match, out
    return match.group(0)


def test_create_prints_the_key_once_and_stores_only_its_hash(cli, conn):
    code, out, _ = cli("keys", "create", "--account", "ACME", "--name", "ci", "--max-text-chars", "1000",
                       "--max-in-flight", "3", "--rate-per-minute", "60", "--webhook-url", "https://acme.test/hook")
    assert code == 0
    secret = _key_from(out)
    store = AccountStore(conn)
    key = store.authenticate(secret)
    assert key is not None and key.account == "ACME" and key.name == "ci" and secret.startswith(key.prefix)
    account = store.fetch_account("ACME")
    assert (account.max_text_chars, account.max_in_flight, account.rate_per_minute) == (1000, 3, 60)
    assert account.webhook_url == "https://acme.test/hook"
    dump = []
    for name in conn.scan_iter("*"):
        dump.append(name)
        kind = conn.type(name)
        if kind == "hash":
            dump += conn.hgetall(name).values()
        elif kind == "string":
            dump.append(conn.get(name))
    assert not any(secret in item for item in dump)  # the plaintext is nowhere in Redis
    assert any(hash_secret(secret) in item for item in dump)

    code, out, _ = cli("keys", "list")
    assert code == 0 and key.id in out and key.prefix in out and "ACME" in out and secret not in out


def test_second_key_keeps_the_account_and_updates_given_limits(cli, conn):
    cli("keys", "create", "--account", "ACME", "--max-in-flight", "3")
    code, out, _ = cli("keys", "create", "--account", "ACME", "--rate-per-minute", "10", "--account-name", "Acme Ltd")
    assert code == 0 and "updated account ACME" in out
    account = AccountStore(conn).fetch_account("ACME")
    assert (account.name, account.max_in_flight, account.rate_per_minute) == ("Acme Ltd", 3, 10)
    assert account.max_text_chars is None
    limits = account.limits(Settings())
    assert limits.max_text_chars == Settings().max_text_chars and limits.max_in_flight == 3


def test_revoke_by_id_prefix_or_key(cli, conn):
    secrets_ = [_key_from(cli("keys", "create", "--account", "ACME")[1]) for _ in range(3)]
    store = AccountStore(conn)
    keys = [store.authenticate(s) for s in secrets_]
    assert cli("keys", "revoke", keys[0].id)[0] == 0
    assert cli("keys", "revoke", keys[1].prefix)[0] == 0
    assert cli("keys", "revoke", secrets_[2])[0] == 0
    assert all(store.authenticate(s) is None for s in secrets_)
    code, out, _ = cli("keys", "revoke", keys[0].id)
    assert code == 0 and "already revoked" in out
    code, out, _ = cli("keys", "list", "--account", "ACME")
    assert code == 0 and out.count("revoked") == 3


def test_list_filters_by_account(cli):
    cli("keys", "create", "--account", "ACME", "--name", "acme-key")
    cli("keys", "create", "--account", "globex", "--name", "globex-key")
    code, out, _ = cli("keys", "list", "--account", "globex")
    assert code == 0 and "globex-key" in out and "acme-key" not in out


@pytest.mark.parametrize("argv,needle", [
    (("keys", "list", "--account", "nobody"), "no account 'nobody'"),
    (("keys", "revoke", "key_000000000000"), "no API key"),
    (("keys", "revoke", "tsk_nothing-like-this"), "no API key"),
    (("keys", "create", "--account", "bad:id"), "invalid account id"),
    (("keys", "create", "--account", ""), "invalid account id"),
    (("keys", "create", "--account", "x", "--max-text-chars", "0"), "--max-text-chars"),
])
def test_bad_input_exits_2_with_one_line(cli, argv, needle):
    code, out, err = cli(*argv)
    assert code == 2 and needle in err and err.count("\n") == 1 and not KEY_RE.search(out)


def test_negative_limit_is_a_usage_error(cli):
    with pytest.raises(SystemExit) as exc:
        cli("keys", "create", "--account", "x", "--rate-per-minute", "-1")
    assert exc.value.code == 2


def test_too_short_a_prefix_names_no_key(cli, conn):
    store = AccountStore(conn)
    store.save_account("ACME")
    for _ in range(2):
        store.create_key("ACME")
    code, _, err = cli("keys", "revoke", "tsk_")  # every key starts so: too short to name one
    assert code == 2 and "no API key" in err


def test_token_bucket_refuses_past_the_rate_and_says_when(conn):
    limiter = RateLimiter(conn)
    decisions = [limiter.hit("acct", 3) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert 1 <= decisions[3].retry_after <= 20  # one token every 20 s
    assert limiter.hit("other", 3).allowed  # buckets are per account


def test_idempotency_claim_complete_release(conn):
    store = IdempotencyStore(conn, ttl_seconds=100)
    fp = fingerprint({"b": 1, "a": "文"})
    assert fp == fingerprint({"a": "文", "b": 1})  # canonical: key order does not matter
    token, existing = store.claim("A", "k1", fp)
    assert token and existing is None
    token2, seen = store.claim("A", "k1", fp)
    assert token2 is None and seen.is_processing and seen.fingerprint == fp
    assert store.claim("B", "k1", fp)[0]  # scoped per account
    assert store.complete("A", "k1", token, IdempotencyRecord(state="", fingerprint=fp, status=202, job_id="j", body="{}"))
    _, done = store.claim("A", "k1", fp)
    assert not done.is_processing and done.job_id == "j" and done.status == 202
    assert 0 < conn.ttl(next(conn.scan_iter("*:idem:*"))) <= 100

    token3, _ = store.claim("A", "k2", fp)
    store.release("A", "k2", "someone-else")  # not ours: kept
    assert store.claim("A", "k2", fp)[0] is None
    store.release("A", "k2", token3)
    assert store.claim("A", "k2", fp)[0]
