"""`make run`: the embedded default on one machine with no configuration.

Starts SQLite-backed Quire with gunicorn, a Celery worker for the default queue, a dedicated worker
for the engine queue, which holds the local engine (see choose_engine), and Celery beat.
Broker: the Redis at REDIS_URL (default 127.0.0.1:6379) when it
answers, otherwise kombu's filesystem transport under var/broker. Either way these are real
Celery workers, never eager mode. Ctrl-C stops everything.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except (redis.exceptions.RedisError, OSError, ValueError):
        return False


def choose_broker() -> str:
    if os.environ.get("CELERY_BROKER_URL"):
        return os.environ["CELERY_BROKER_URL"]
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    if _redis_answers(redis_url):
        return redis_url
    return "filesystem://"


# A small instruct model, used when the machine can fetch it (or already has it cached).
EMBEDDED_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"


def choose_engine(var_dir: Path) -> str:
    """Set the engine environment for the workers unless the user chose one; returns a description.

    The local engine with a small instruct model when the hub answers or the model is cached; else the demo
    model that ships inside an installed package (SmolLM2-135M-Instruct, engine.demo_model), real but weak,
    which every page names as such; and only where that package is missing too, the tiny random-weight model
    built here, with QUIRE_ENGINE_DEMO set so every page says its output is meaningless.
    """
    if os.environ.get("QUIRE_ENGINE"):
        return f"{os.environ['QUIRE_ENGINE']} ({os.environ.get('QUIRE_ENGINE_MODEL', '')})"
    from engine.api import EngineError
    from engine.local.loading import resolve_source

    os.environ["QUIRE_ENGINE"] = "local"
    os.environ.setdefault("QUIRE_ENGINE_MEMORY_BUDGET_BYTES", str(1 << 30))
    os.environ.setdefault("QUIRE_CACHE_DIR", str(var_dir / "cache"))
    model = os.environ.get("QUIRE_EMBEDDED_MODEL", EMBEDDED_MODEL)
    try:
        os.environ["QUIRE_ENGINE_MODEL"] = resolve_source(model)
        return f"local, {model}"
    except EngineError:
        pass
    from engine.demo_model import NAME, cached_demo_model

    try:
        os.environ["QUIRE_ENGINE_MODEL"] = str(cached_demo_model())
        return f"local, {NAME} demo model from its installed package ({model} could not be fetched): answers unreliable"
    except EngineError:
        from engine.tiny import cached_tiny_model

        os.environ["QUIRE_ENGINE_MODEL"] = str(cached_tiny_model("llama", max_context=32768))
        os.environ["QUIRE_ENGINE_DEMO"] = "true"
        return f"local, tiny random-weight demo model ({model} could not be fetched): its output is meaningless"


def _demo_credentials(var_dir: Path) -> tuple[str, str]:
    path = var_dir / "demo_password"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(9))
    return "demo", path.read_text().strip()


def _prepare(var_dir: Path) -> tuple[str, str]:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)

    from django.contrib.auth import get_user_model

    from webapp.accounts.services import account_email_confirm
    from webapp.workspaces.services import workspace_create

    username, password = _demo_credentials(var_dir)
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"email": "demo@example.com"}
    )
    user.set_password(password)
    user.save()
    account_email_confirm(user=user)  # the operator vouches for the demo address: no verification mail to follow
    if created:
        workspace_create(user=user, name="Demo workspace")
    return username, password


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    os.environ.setdefault("QUIRE_HTTPS", "false")  # plain HTTP on localhost
    os.environ.setdefault("QUIRE_LOG_FORMAT", "plain")  # a terminal, not a log shipper
    var_dir = Path(os.environ.setdefault("QUIRE_VAR_DIR", str(REPO / "var")))
    var_dir.mkdir(parents=True, exist_ok=True)
    broker = choose_broker()
    os.environ["CELERY_BROKER_URL"] = broker
    host = os.environ.get("QUIRE_HOST", "127.0.0.1")
    port = os.environ.get("QUIRE_PORT", "8000")

    engine_label = choose_engine(var_dir)
    username, password = _prepare(var_dir)

    python = sys.executable
    celery = [python, "-m", "celery", "-A", "webapp", "worker", "--loglevel", "INFO"]
    commands = {
        "web": [python, "-m", "gunicorn", "webapp.wsgi", "--bind", f"{host}:{port}", "--workers", "2",
                "--threads", "4", "--timeout", "600", "--access-logfile", "-",
                # Tokens (invitation, password reset, feeds) out of the access log (webapp/logs.py).
                "--logger-class", "webapp.logs.GunicornLogger"],
        "worker": celery + ["-Q", "default", "--concurrency", "2", "-n", "default@%h"],
        "engine": celery + ["-Q", "engine", "--concurrency", "1", "-n", "engine@%h"],
        # The periodic stuck-work check (documents_recover_stuck).
        "beat": [python, "-m", "celery", "-A", "webapp", "beat", "--loglevel", "INFO"],
    }
    children = {name: subprocess.Popen(cmd, cwd=REPO) for name, cmd in commands.items()}

    broker_label = "kombu filesystem transport (var/broker)" if broker.startswith("filesystem") else broker
    print(
        f"\nQuire is running at http://{host}:{port}/\n"
        f"  log in as {username!r} with password {password!r}\n"
        f"  database: {os.environ.get('DATABASE_URL') or var_dir / 'quire.sqlite3'}\n"
        f"  broker:   {broker_label}\n"
        f"  engine:   {engine_label}\n"
        "  Ctrl-C stops everything.\n",
        flush=True,
    )

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"{name} exited with {child.returncode}; stopping the rest.", file=sys.stderr)
                exit_code, stopping = child.returncode or 1, True
                break
        time.sleep(0.5)
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 20
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
