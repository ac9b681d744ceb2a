"""docker-compose.yml and the Dockerfiles, checked without a Docker engine (none runs here)."""

from __future__ import annotations

import re
import shlex
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from common.config import ENV_PREFIX, Settings
from tingshu.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
SETTING_VARS = {ENV_PREFIX + f.name.upper() for f in fields(Settings)}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_services_and_health(compose):
    services = compose["services"]
    assert {"redis", "minio", "api", "worker", "worker-cpu"} <= set(services)
    for name in ("redis", "minio", "api"):
        assert "test" in services[name]["healthcheck"], name
    assert "--appendonly" in services["redis"]["command"]
    assert services["redis"]["command"][services["redis"]["command"].index("--appendonly") + 1] == "yes"
    gpu = services["worker"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    assert services["worker-cpu"]["profiles"] == ["cpu"]
    for name in ("api", "worker", "worker-cpu"):
        conditions = services[name]["depends_on"]
        assert conditions["redis"]["condition"] == "service_healthy"


def test_compose_env_names_real_settings(compose):
    for name, service in compose["services"].items():
        for var in (service.get("environment") or {}):
            if var.startswith(ENV_PREFIX):
                assert var in SETTING_VARS, f"{name}: {var} is not a setting"


def test_compose_ports_bind_loopback(compose):
    for service in compose["services"].values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port


@pytest.mark.parametrize("dockerfile", ["Dockerfile.api", "Dockerfile.worker"])
def test_dockerfiles_copy_existing_paths_and_run_real_commands(dockerfile, compose):
    text = (ROOT / dockerfile).read_text()
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        for source in shlex.split(line)[:-1]:
            assert (ROOT / source).exists(), f"{dockerfile}: COPY {source} does not exist"
    cmd = re.search(r"^CMD (\[.+\])$", text, re.M).group(1)
    argv = yaml.safe_load(cmd)
    assert argv[0] == "tingshu"
    build_parser().parse_args(argv[1:])  # raises SystemExit if the CLI has no such command
    assert re.search(r"^HEALTHCHECK ", text, re.M)
    assert "torch==2.13.0" in text


def test_compose_commands_are_real_cli_commands(compose):
    for service in compose["services"].values():
        argv = service.get("command")
        if argv and argv[0] == "tingshu":
            build_parser().parse_args(argv[1:])
