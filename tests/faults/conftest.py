"""Fault injection: real processes (Celery workers, gunicorn) on PostgreSQL and a real Redis.

The processes run the local settings against this test's PostgreSQL database, with
short leases and visibility timeout so that recovery fits in a test, and the
sandbox gateways answering late (``SANDBOX_GATEWAY_DELAY_SECONDS``) so that a
process can be killed after the money moved and before its answer was recorded.

Redis: ``scripts/test`` starts one from a config file and exports
``FAULTS_REDIS_CONF``; the tests kill -9 it and start it again from the same file
(append-only file, fsync always: the queue survives as it would in production).
Run alone, the fixture starts its own.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.conf import settings

from tests.core.test_celery_e2e import database_url, free_port

ROOT = Path(__file__).resolve().parents[2]
OUTAGE_SECONDS = float(os.environ.get("FAULTS_OUTAGE_SECONDS", "60"))


def wait_for(predicate: Callable[[], Any], *, timeout: float, what: str, step: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(step)


class Redis:
    """A redis-server run from a config file, that a test may kill -9 and start again."""

    def __init__(self, conf: Path) -> None:
        self.conf = conf
        values = dict(
            line.split(None, 1)
            for line in conf.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        )
        self.port = int(values["port"])
        self.pidfile = Path(values["pidfile"].strip('"'))
        self.url = f"redis://127.0.0.1:{self.port}"

    def ping(self) -> bool:
        done = subprocess.run(  # noqa: S603
            [shutil.which("redis-cli") or "redis-cli", "-p", str(self.port), "ping"],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() == "PONG"

    def start(self) -> None:
        subprocess.run([shutil.which("redis-server") or "redis-server", str(self.conf)], check=True)  # noqa: S603
        wait_for(self.ping, timeout=20, what="redis-server to answer")

    def kill(self) -> None:
        """kill -9: no shutdown, no save; what was fsynced to the append-only file stays."""
        pid = int(self.pidfile.read_text().strip())
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not self.ping(), timeout=10, what="redis-server to die")

    def flush(self) -> None:
        subprocess.run(  # noqa: S603
            [shutil.which("redis-cli") or "redis-cli", "-p", str(self.port), "flushall"],
            capture_output=True,
            check=True,
        )


def write_redis_conf(directory: Path, port: int) -> Path:
    conf = directory / "redis.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {directory}\nappendonly yes\nappendfsync always\n"
        f'save ""\npidfile {directory / "redis.pid"}\ndaemonize yes\n'
        f"logfile {directory / 'redis.log'}\n"
    )
    return conf


@pytest.fixture
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    """The suite's Redis (scripts/test's, or one started here), running and empty."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: scripts/setup --dev installs it")
    given = os.environ.get("FAULTS_REDIS_CONF")
    own = not given
    conf = Path(given) if given else write_redis_conf(tmp_path_factory.mktemp("redis"), free_port())
    server = Redis(conf)
    if not server.ping():
        server.start()
    server.flush()
    yield server
    if not server.ping():
        server.start()  # a test failed mid-outage: leave scripts/test's server running
    if own:
        subprocess.run(  # noqa: S603
            [
                shutil.which("redis-cli") or "redis-cli",
                "-p",
                str(server.port),
                "shutdown",
                "nosave",
            ],
            capture_output=True,
            check=False,
        )


def process_env(broker: str, **extra: str) -> dict[str, str]:
    """Environment of a child process: local settings on this test's database and keys."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "SANDBOX_", "IDEMPOTENCY_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="refund_site.settings.local",
        DJANGO_DEBUG="false",
        DATABASE_URL=database_url(),
        DB_CONN_MAX_AGE="0",
        CELERY_BROKER_URL=broker,
        CELERY_VISIBILITY_TIMEOUT="10",
        CELERY_UNACKED_RESTORE_INTERVAL="2",
        CELERY_UNACKED_RESTORE_THROTTLE="1",
        GUARANTEE_OPERATION_LEASE_SECONDS="5",
        IDEMPOTENCY_LEASE_SECONDS="6",
        SIGNING_PRIVATE_KEY=settings.SIGNING_PRIVATE_KEY,
        FIELD_ENCRYPTION_KEY=settings.FIELD_ENCRYPTION_KEY,
        DOCUMENT_HASH_KEY=settings.DOCUMENT_HASH_KEY,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Proc:
    """A child process in its own process group (so kill -9 takes its children too)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(  # noqa: S603
                args,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def children(self) -> list[int]:
        done = subprocess.run(  # noqa: S603
            [shutil.which("pgrep") or "/usr/bin/pgrep", "-P", str(self.process.pid)],
            capture_output=True,
            text=True,
            check=False,
        )
        return [int(pid) for pid in done.stdout.split()]

    def kill9(self) -> None:
        """kill -9 the whole process group: the host died."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if not self.alive:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    """``processes(name, args, env)`` starts a child; all are stopped after the test."""
    started: list[Proc] = []

    def start(name: str, args: list[str], env: dict[str, str]) -> Proc:
        proc = Proc(name, args, env, tmp_path)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
    for proc in started:  # shown by pytest when the test failed
        print(f"===== {proc.name} =====\n{proc.log()[-6000:]}")


def celery_worker(
    processes: Callable[..., Proc], name: str, broker: str, *, concurrency: int = 2, **env: str
) -> Proc:
    """A prefork Celery worker as production runs it (gossip, mingle and heartbeats on)."""
    proc: Proc = processes(
        name,
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "refund_site",
            "worker",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            f"--hostname={name}@faults",
        ],
        process_env(broker, **env),
    )
    wait_for(lambda: "ready." in proc.log() or not proc.alive, timeout=60, what=f"{name} ready")
    assert proc.alive, proc.log()
    return proc


def client(broker: str) -> Celery:
    """A Celery app that only sends, to the given broker."""
    app = Celery("faults-client", broker=broker, set_as_current=False)
    app.conf.broker_connection_timeout = 2
    return app
