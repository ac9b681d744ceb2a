"""``tingshu keys``: create, revoke and list API keys (and set account limits) in Redis.

    tingshu keys create --account ACME [--name ci] [--max-text-chars N] [--max-in-flight N]
                        [--rate-per-minute N] [--webhook-url URL] [--account-name "Acme Ltd"]
    tingshu keys revoke KEY_ID_OR_PREFIX
    tingshu keys list [--account ACME]

``create`` makes the account if it does not exist yet (and updates the limits given if it
does), then prints the new key once: only its SHA-256 is stored. Bad input (unknown account or
key, a bad id or limit) prints one line to stderr and exits 2.
"""

from __future__ import annotations

import argparse
import time

from common.accounts import AccountStore, ApiKey
from common.config import Settings
from common.errors import AccountNotFound, ApiKeyNotFound, ValidationError


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {value}")
    return value


def add_parser(sub) -> None:
    """Add ``keys`` and its sub-commands to the ``tingshu`` sub-parsers."""
    keys = sub.add_parser("keys", help="create, revoke and list API keys (TINGSHU_REDIS_URL)")
    actions = keys.add_subparsers(dest="keys_command", required=True)

    p = actions.add_parser("create", help="make a key for an account (the account is created if new)")
    p.add_argument("--account", required=True, help="account id: letters, digits, _ . - (at most 64)")
    p.add_argument("--name", default="", help="a label for this key, e.g. where it is used")
    p.add_argument("--account-name", help="display name of the account")
    p.add_argument("--max-text-chars", type=_non_negative, help="longest text per job (default TINGSHU_MAX_TEXT_CHARS)")
    p.add_argument("--max-in-flight", type=_non_negative,
                   help="unfinished jobs at once, 0 = no limit (default TINGSHU_DEFAULT_MAX_IN_FLIGHT)")
    p.add_argument("--rate-per-minute", type=_non_negative,
                   help="API requests per minute, 0 = no limit (default TINGSHU_DEFAULT_RATE_PER_MINUTE)")
    p.add_argument("--webhook-url", help="default webhook URL of the account's jobs")
    p.set_defaults(handler=cmd_create)

    p = actions.add_parser("revoke", help="revoke a key by id (key_...), by its prefix or by the key itself")
    p.add_argument("key", metavar="KEY_ID_OR_PREFIX")
    p.set_defaults(handler=cmd_revoke)

    p = actions.add_parser("list", help="list keys (never the secrets) with their accounts' limits")
    p.add_argument("--account", help="only this account's keys")
    p.set_defaults(handler=cmd_list)


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    store = AccountStore.from_url(settings.redis_url)
    if args.max_text_chars == 0:
        raise ValidationError("--max-text-chars", "must be >= 1")
    existed = store.account_exists(args.account)
    try:
        account = store.save_account(args.account, args.account_name, max_text_chars=args.max_text_chars,
                                     max_in_flight=args.max_in_flight, rate_per_minute=args.rate_per_minute,
                                     webhook_url=args.webhook_url)
    except ValidationError as exc:
        raise ValidationError(f"--{exc.field.replace('_', '-')}", exc.message) from None
    key, secret = store.create_key(account.id, args.name)
    limits = account.limits(settings)
    print(f"{'updated' if existed else 'created'} account {account.id}: max_text_chars={limits.max_text_chars} "
          f"max_in_flight={limits.max_in_flight or 'unlimited'} rate_per_minute={limits.rate_per_minute or 'unlimited'}")
    print(f"created key {key.id} (prefix {key.prefix}) for account {account.id}")
    print("API key (shown only now; store it safely):")
    print(secret)
    return 0


def cmd_revoke(args: argparse.Namespace, settings: Settings) -> int:
    store = AccountStore.from_url(settings.redis_url)
    try:
        key, revoked = store.revoke_key(args.key)
    except ApiKeyNotFound as exc:
        raise ValidationError("KEY_ID_OR_PREFIX", str(exc)) from None
    print(f"{'revoked' if revoked else 'already revoked:'} key {key.id} (prefix {key.prefix}) of account {key.account}")
    return 0


def _row(key: ApiKey) -> str:
    created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(key.created_at))
    status = "revoked" if key.is_revoked else "active"
    return f"{key.id:<16} {key.prefix:<14} {key.account:<20} {status:<8} {created:<17} {key.name}"


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    store = AccountStore.from_url(settings.redis_url)
    try:
        keys = store.list_keys(args.account)
    except AccountNotFound:
        raise ValidationError("--account", f"no account {args.account!r}") from None
    print(f"{'KEY_ID':<16} {'PREFIX':<14} {'ACCOUNT':<20} {'STATUS':<8} {'CREATED (UTC)':<17} NAME")
    for key in keys:
        print(_row(key))
    return 0
