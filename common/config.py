"""Settings for every tingshu process, read once from environment variables.

The README's configuration table is generated from ``SETTINGS_DOC`` below, so the two never
drift apart. Values are parsed and checked here; a bad value raises ``ValueError`` naming the
variable at start-up rather than at the first job.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping

ENV_PREFIX = "TINGSHU_"
"""Every setting is read from ``TINGSHU_<NAME>`` (upper case)."""


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "tingshu"


@dataclass(frozen=True)
class Settings:
    """All runtime settings. Build with :meth:`from_env`; override in tests with :meth:`replace`."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    storage: str = "local"
    local_dir: str = str(_default_data_dir() / "storage")
    s3_endpoint: str = ""
    s3_bucket: str = "tingshu"
    s3_region: str = "us-east-1"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_presign_seconds: int = 3600
    s3_multipart_threshold_mb: int = 8
    engine: str = "bundled"
    model_dir: str = str(_default_data_dir() / "models")
    sambert_model: str = "damo/speech_sambert-hifigan_tts_zh-cn_16k"
    device: str = "auto"
    fp16: bool = True
    cuda_empty_cache: bool = True
    cpu_fallback: bool = False
    torch_threads: int = 1
    chunk_chars: int = 80
    chunks_per_task: int = 8
    chunk_retries: int = 3
    max_text_chars: int = 500_000
    sync_max_chars: int = 300
    max_body_bytes: int = 4 * 1024 * 1024
    pause_ms: int = 250
    default_format: str = "wav"
    job_ttl_seconds: int = 7 * 24 * 3600
    cleanup_interval_seconds: int = 3600
    visibility_timeout: int = 4 * 3600
    result_expires: int = 7 * 24 * 3600
    allow_anonymous: bool = False
    default_max_in_flight: int = 20
    default_rate_per_minute: int = 600
    idempotency_ttl_seconds: int = 24 * 3600
    log_format: str = "json"
    webhook_secrets: str = ""
    webhook_allow: str = ""
    webhook_schedule: str = "5,300,1800,7200,18000,36000,36000"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Read settings from ``environ`` (default ``os.environ``).

        Raises:
            ValueError: a variable holds a value of the wrong type or out of range.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None and f.name == "s3_access_key":
                raw = env.get("AWS_ACCESS_KEY_ID")
            if raw is None and f.name == "s3_secret_key":
                raw = env.get("AWS_SECRET_ACCESS_KEY")
            if raw is None:
                continue
            values[f.name] = _parse(f.name, type(f.default), raw)
        settings = cls(**values)
        settings.validate()
        return settings

    def replace(self, **changes: Any) -> "Settings":
        """Return a copy with ``changes`` applied and validated."""
        new = replace(self, **changes)
        new.validate()
        return new

    def to_env(self) -> dict[str, str]:
        """``TINGSHU_*`` variables from which :meth:`from_env` rebuilds these settings exactly."""
        env: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            env[ENV_PREFIX + f.name.upper()] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return env

    def validate(self) -> None:
        """Check cross-field rules.

        Raises:
            ValueError: naming the environment variable at fault.
        """
        if self.storage not in ("local", "s3"):
            raise ValueError(f"{ENV_PREFIX}STORAGE must be 'local' or 's3', not {self.storage!r}")
        positive = ("chunk_chars", "chunks_per_task", "max_text_chars", "sync_max_chars",
                    "max_body_bytes", "s3_presign_seconds", "job_ttl_seconds", "cleanup_interval_seconds",
                    "visibility_timeout", "result_expires", "torch_threads", "idempotency_ttl_seconds")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{ENV_PREFIX}{name.upper()} must be > 0")
        if self.log_format not in ("json", "text"):
            raise ValueError(f"{ENV_PREFIX}LOG_FORMAT must be 'json' or 'text', not {self.log_format!r}")
        self._validate_webhooks()
        if self.chunk_retries < 0 or self.pause_ms < 0:
            raise ValueError(f"{ENV_PREFIX}CHUNK_RETRIES and {ENV_PREFIX}PAUSE_MS must be >= 0")
        for name in ("default_max_in_flight", "default_rate_per_minute"):
            if getattr(self, name) < 0:
                raise ValueError(f"{ENV_PREFIX}{name.upper()} must be >= 0 (0 means no limit)")

    def _validate_webhooks(self) -> None:
        from common.webhooks import AllowList, parse_schedule, parse_secrets

        checks = (("webhook_secrets", parse_secrets), ("webhook_schedule", parse_schedule),
                  ("webhook_allow", AllowList.parse))
        for name, check in checks:
            try:
                check(getattr(self, name))
            except ValueError as exc:
                raise ValueError(f"{ENV_PREFIX}{name.upper()}: {exc}") from None


def _parse(name: str, kind: type, raw: str) -> Any:
    var = ENV_PREFIX + name.upper()
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"{var} must be a boolean (1/0, true/false), not {raw!r}")
    if kind is int:
        try:
            return int(raw.strip().replace("_", ""))
        except ValueError:
            raise ValueError(f"{var} must be an integer, not {raw!r}") from None
    return raw.strip()


SETTINGS_DOC: dict[str, str] = {
    "redis_url": "Redis for the job store, the Celery broker and the result backend.",
    "storage": "`local` (a directory) or `s3` (any S3-compatible server).",
    "local_dir": "Root directory of the local storage backend.",
    "s3_endpoint": "S3 endpoint URL, e.g. `http://127.0.0.1:8333`; empty means AWS.",
    "s3_bucket": "Bucket for chunk and result audio (created if missing).",
    "s3_region": "Region name passed to boto3.",
    "s3_access_key": "Access key (falls back to `AWS_ACCESS_KEY_ID`).",
    "s3_secret_key": "Secret key (falls back to `AWS_SECRET_ACCESS_KEY`).",
    "s3_presign_seconds": "Lifetime of presigned download URLs.",
    "s3_multipart_threshold_mb": "Results larger than this are uploaded in parts (boto3 transfer manager).",
    "engine": "TTS engine: `bundled` (offline Tacotron2+MelGAN), `sambert` (ModelScope extra), `tone` (test engine).",
    "model_dir": "Where `tingshu fetch-model` puts the converted bundled weights.",
    "sambert_model": "ModelScope model id (resolved in the local ModelScope cache only) or a local model directory, for `engine=sambert`.",
    "device": "`auto` (CUDA when available), `cpu`, `cuda` or `cuda:N`.",
    "fp16": "Use FP16 autocast on CUDA (ignored on CPU).",
    "cuda_empty_cache": "Call `torch.cuda.empty_cache()` after every batch.",
    "cpu_fallback": "After CUDA OOM at batch size 1, run the chunk on the CPU instead of failing.",
    "torch_threads": "torch intra-op threads per worker process.",
    "chunk_chars": "Target maximum characters per chunk (capped by the engine's own maximum).",
    "chunks_per_task": "Consecutive chunks carried by one Celery task (batched by the engine).",
    "chunk_retries": "Celery retries for a failing chunk task before the job fails.",
    "max_text_chars": "Longest text accepted for one job.",
    "sync_max_chars": "Longest text accepted by the synchronous `POST /api/tts`.",
    "max_body_bytes": "Largest HTTP request body accepted.",
    "pause_ms": "Silence inserted between chunks when merging.",
    "default_format": "Output format when a job names none (wav, flac, mp3, ogg).",
    "job_ttl_seconds": "How long job records and results are kept after a job ends.",
    "cleanup_interval_seconds": "How often Celery beat deletes the audio of expired jobs.",
    "visibility_timeout": "Redis broker visibility timeout: must exceed the longest chunk task.",
    "result_expires": "Celery result (and chord counter) lifetime: must exceed the longest job.",
    "allow_anonymous": "Accept API requests without an API key, as account `default` (local development only).",
    "default_max_in_flight": "Unfinished jobs an account may have at once, unless its own limit says otherwise (0: no limit).",
    "default_rate_per_minute": "API requests per minute per account (token bucket), unless its own limit says otherwise (0: no limit).",
    "idempotency_ttl_seconds": "How long an `Idempotency-Key` of `POST /v1/jobs` is remembered.",
    "log_format": "`json` (one object per line, with `job_id` and `account`) or `text`, for the API and workers.",
    "webhook_secrets": "Space-separated `whsec_…` webhook signing secrets, current first; every one signs (key rotation).",
    "webhook_allow": "Space-separated hosts, IPs and CIDRs webhooks may reach although private or loopback (SSRF allow-list).",
    "webhook_schedule": "Comma-separated seconds between webhook retries (±10 % jitter); attempts = entries + 1.",
}
"""One line per setting; rendered into the README configuration table."""


def settings_table() -> str:
    """The README's settings table (Markdown), one row per setting with its default."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    defaults = Settings()
    home = os.path.expanduser("~")
    for f in fields(Settings):
        default = getattr(defaults, f.name)
        shown = ("1" if default else "0") if isinstance(default, bool) else str(default).replace(home, "~")
        shown = f"`{shown}`" if shown else "(empty)"
        rows.append(f"| `{ENV_PREFIX}{f.name.upper()}` | {shown} | {SETTINGS_DOC.get(f.name, '')} |")
    return "\n".join(rows)
