"""The team-server deployment (docker-compose.yml, Dockerfile) agrees with the settings it configures.

Docker is not needed: the files are read as data, so a renamed setting, a queue that no worker
consumes or a web command that no longer starts the WSGI app fails here, not on a server.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml
from django.conf import settings

from tests.conftest import REPO

APP_SERVICES = ("migrate", "web", "worker", "engine-worker", "beat")
LONG_RUNNING_APP_SERVICES = ("web", "worker", "engine-worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def command_of(service: dict) -> list[str]:
    command = service["command"]
    return command.split() if isinstance(command, str) else list(command)


def option(command: list[str], name: str) -> str:
    assert name in command, f"{name} missing from {command}"
    return command[command.index(name) + 1]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = (REPO / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, arguments = line.strip().partition(" ")
            pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def test_compose_defines_the_team_server_services(compose):
    assert "version" not in compose  # obsolete in the Compose specification
    services = compose["services"]
    expected_pieces = {
        "migrate": ["python manage.py migrate --noinput"],
        "web": ["gunicorn webapp.wsgi", "--bind 0.0.0.0:8000"],
        "worker": ["celery -A webapp worker", "-Q default", "--concurrency 2"],
        "engine-worker": ["celery -A webapp worker", "-Q engine", "--concurrency 1", "-n engine@%h"],
        "beat": ["celery -A webapp beat"],
    }
    for name, pieces in expected_pieces.items():
        command = " ".join(command_of(services[name]))
        for piece in pieces:
            assert piece in command, f"{name}: {piece!r} not in {command!r}"
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("postgres", "redis", "web", "worker", "engine-worker"):
        assert services[name]["healthcheck"]["test"], f"{name} has no healthcheck"
    assert "8000:8000" in services["web"]["ports"]


def test_services_start_in_order(compose):
    services = compose["services"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    for name in LONG_RUNNING_APP_SERVICES:
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends_on["redis"] == {"condition": "service_healthy"}, name
        assert services[name]["restart"] == "unless-stopped", name
    for name in ("postgres", "redis"):
        assert services[name]["restart"] == "unless-stopped", name


def test_every_compose_environment_name_is_read_by_settings(compose):
    names = list(compose["x-quire-env"])
    source = (REPO / "webapp" / "settings.py").read_text()
    unknown = [name for name in names if f'"{name}"' not in source]
    assert not unknown, f"docker-compose.yml sets variables webapp/settings.py never reads: {unknown}"
    # The names the deployment cannot do without.
    for required in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "QUIRE_VAR_DIR"):
        assert required in names


def test_app_services_share_one_environment_and_the_data_volume(compose):
    environment = compose["x-quire-env"]
    services = compose["services"]
    for name in APP_SERVICES:
        assert services[name]["environment"] == environment, name
    for name in LONG_RUNNING_APP_SERVICES:
        assert "quire-data:/data" in services[name]["volumes"], name
    assert environment["QUIRE_VAR_DIR"] == "/data"
    assert environment["DATABASE_URL"].endswith("@postgres:5432/quire")
    assert environment["REDIS_URL"].startswith("redis://redis:6379/")
    # A server must be given its key; compose refuses to start without one.
    assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert "quire-data" in compose["volumes"]


def test_workers_consume_the_queues_that_settings_route_to(compose):
    services = compose["services"]
    worker_queues = set(option(command_of(services["worker"]), "-Q").split(","))
    engine_queues = set(option(command_of(services["engine-worker"]), "-Q").split(","))
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}

    assert worker_queues == {settings.CELERY_TASK_DEFAULT_QUEUE}
    assert engine_queues == routed == {"engine"}
    assert not worker_queues & engine_queues  # analysis never takes a slot meant for ingestion


def test_worker_healthchecks_ping_their_own_node(compose):
    for name in ("worker", "engine-worker"):
        service = compose["services"][name]
        node = option(command_of(service), "-n")  # e.g. engine@%h
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD-SHELL"
        # $$ is compose's escape for a literal $: the shell sees $HOSTNAME, which is what %h means.
        expected = node.replace("%h", "$$HOSTNAME")
        assert f"celery -A webapp inspect ping -d {expected}" in test[1], test


def test_web_healthcheck_is_valid_python_for_the_login_page(compose):
    test = compose["services"]["web"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]  # the slim image has no curl
    compile(test[3], "web healthcheck", "exec")
    assert "/accounts/login/" in test[3]


def test_gpu_engine_worker_is_the_engine_worker_with_gpus_behind_a_profile(compose):
    services = compose["services"]
    gpu, cpu = services["engine-worker-gpu"], services["engine-worker"]
    assert gpu["profiles"] == ["gpu"]
    assert "profiles" not in cpu  # a plain `docker compose up` needs no GPU
    assert command_of(gpu) == command_of(cpu)
    assert gpu["environment"] == cpu["environment"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]


def test_dockerfile_runs_gunicorn_as_quire_with_data_under_data():
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim-bookworm")

    cmd = [arguments for instruction, arguments in instructions if instruction == "CMD"][-1]
    cmd = json.loads(cmd)  # exec form: no shell between docker and gunicorn, which gets SIGTERM
    assert cmd[:2] == ["gunicorn", "webapp.wsgi"]
    assert option(cmd, "--bind") == "0.0.0.0:8000"

    env = " ".join(arguments for instruction, arguments in instructions if instruction == "ENV")
    assert "QUIRE_VAR_DIR=/data" in env.split()
    assert "QUIRE_MEDIA_ROOT=/data/media" in env.split()
    # Static files are collected into the image, outside the runtime volume.
    assert "collectstatic --noinput" in " ".join(a for i, a in instructions if i == "RUN")
    users = [arguments for instruction, arguments in instructions if instruction == "USER"]
    assert users[-1] == "quire"
    assert ("EXPOSE", "8000") in instructions


def test_build_context_leaves_out_secrets_and_local_state():
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    for path in (".env", ".venv/", ".git/", "var/", "tests/", "bench/"):
        assert path in ignored, path


def test_engine_worker_image_carries_the_engine_extra(compose):
    """QUIRE_ENGINE=local needs the engine extra (accelerate, gguf, xgrammar...), which the web image leaves out;
    torch and transformers are in every image, for the first pass's clause encoder, torch from the CPU index."""
    import tomllib

    extras = compose["services"]["engine-worker"]["build"]["args"]["EXTRAS"].split(",")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    assert "engine" in extras and all(extra in optional for extra in extras)
    assert any(dep.startswith("accelerate==") for dep in optional["engine"])
    assert {"torch", "transformers"} <= {dep.split("==")[0] for dep in project["dependencies"]}
    assert ("ARG", "EXTRAS=s3") in dockerfile_instructions()
    # torch from the CPU index, at pyproject's pin (read from the requirements the same RUN writes), before the rest
    install = next(args for instruction, args in dockerfile_instructions() if instruction == "RUN" and "torch==" in args)
    cpu = install.index("--index-url https://download.pytorch.org/whl/cpu \"$(grep '^torch==' /tmp/requirements.txt)\"")
    assert install.index("> /tmp/requirements.txt") < cpu < install.index("pip install --no-cache-dir -r /tmp/requirements.txt")
    assert compose["services"]["engine-worker"]["image"] != compose["services"]["web"]["image"]


def test_env_example_names_only_what_settings_or_compose_read(compose):
    source = (REPO / "webapp" / "settings.py").read_text()
    compose_text = (REPO / "docker-compose.yml").read_text()
    names = [line.split("=", 1)[0] for line in (REPO / ".env.example").read_text().splitlines()
             if line and not line.startswith("#")]
    assert "SECRET_KEY" in names and "POSTGRES_PASSWORD" in names
    unknown = [n for n in names if f'"{n}"' not in source and f"${{{n}" not in compose_text]
    assert not unknown, f".env.example offers names nothing reads: {unknown}"


def test_optional_vllm_and_minio_profiles(compose):
    services = compose["services"]
    vllm, minio = services["vllm"], services["minio"]
    assert vllm["profiles"] == ["vllm"] and minio["profiles"] == ["minio"]
    command = " ".join(vllm["command"])
    for flag in ("--enable-expert-parallel", "--kv-cache-dtype fp8", "--block-size 256", "--trust-remote-code"):
        assert flag in command, flag
    assert "1048576" in command and vllm["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert vllm["healthcheck"]["test"] and minio["healthcheck"]["test"]
    # Neither starts with a plain `docker compose up`.
    assert all("profiles" in services[name] for name in ("vllm", "minio", "engine-worker-gpu"))
