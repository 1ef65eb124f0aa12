"""A real Celery worker process on a real broker seals the ledger the test wrote.

The worker runs the local settings (as `scripts/start` does) against this test's
own database: the SQLite test database is a file (see settings/test.py) and the
PostgreSQL one is a server database, so what the test commits the worker sees,
and the seal it writes the test reads back. Twice: on the embedded filesystem
broker, and on a redis-server this module starts on a free loopback port.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection

from core.ledger import ledger_append, ledger_verify
from core.models import Agency, LedgerSeal, LedgerSealItem

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
TASK_TIMEOUT = 60  # a bound, not a wait: .get() returns as soon as the worker answers


def database_url() -> str:
    """The URL of the database this test runs on, for another process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return f"postgres://{user}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Worker:
    """A `celery -A refund_site worker` subprocess and a client app sending to its broker."""

    def __init__(self, var_dir: Path, broker: str, backend: str) -> None:
        self.log_path = var_dir / "worker.log"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="refund_site.settings.local",
            DJANGO_DEBUG="false",
            REFUND_VAR_DIR=str(var_dir),
            DATABASE_URL=database_url(),
            CELERY_BROKER_URL=broker,
            CELERY_RESULT_BACKEND=backend,
            # the test's keys, so the test can check the head the worker signs
            SIGNING_PRIVATE_KEY=settings.SIGNING_PRIVATE_KEY,
            FIELD_ENCRYPTION_KEY=settings.FIELD_ENCRYPTION_KEY,
            DOCUMENT_HASH_KEY=settings.DOCUMENT_HASH_KEY,
        )
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "refund_site",
                    "worker",
                    "--pool=solo",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--loglevel=INFO",
                    f"--hostname=e2e-{os.getpid()}@%h",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.client = Celery("e2e-client", broker=broker, backend=backend, set_as_current=False)
        if broker.startswith("filesystem://"):
            queue = var_dir / "broker" / "queue"
            queue.mkdir(parents=True, exist_ok=True)
            (var_dir / "broker" / "processed").mkdir(exist_ok=True)
            self.client.conf.broker_transport_options = {
                "data_folder_in": str(queue),
                "data_folder_out": str(queue),
                "processed_folder": str(var_dir / "broker" / "processed"),
                "control_folder": str(var_dir / "broker" / "control"),
                "store_processed": False,
            }

    def run(self, task: str) -> Any:
        """Send ``task`` through the broker and return what the worker answers."""
        result = self.client.send_task(task)
        try:
            return result.get(timeout=TASK_TIMEOUT)
        except Exception:
            print(self.log())  # shown by pytest on failure
            raise

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    path = tmp_path / "var"
    path.mkdir()
    return path


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A throwaway redis-server on a free loopback port, ready when it says so."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is missing: scripts/setup --dev installs it")
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:  # blocks on the server's own output, no polling
        seen.append(line)
        if "Ready to accept connections" in line:
            break
    else:
        pytest.fail("redis-server did not start:\n" + "".join(seen))
    # keep draining its output so the pipe never fills
    threading.Thread(target=process.stdout.read, daemon=True).start()
    yield f"redis://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def write_entries() -> int:
    """Three committed ledger entries on two records; returns how many."""
    a = Agency.objects.create(code="E2E-A", name="A")
    b = Agency.objects.create(code="E2E-B", name="B")
    ledger_append(record=a, action="create", to_status="issued", payload={"total": "200.00"})
    ledger_append(record=b, action="create", to_status="issued")
    ledger_append(record=a, action="verify", from_status="issued", to_status="verified")
    return 3


def assert_sealed(count: int) -> None:
    seal = LedgerSeal.objects.get()
    assert (seal.batch_size, seal.tree_size) == (count, count)
    assert LedgerSealItem.objects.count() == count
    report = ledger_verify()  # Merkle root and the platform signature, checked here
    assert report.intact, report.first_break
    assert (report.entries, report.seals) == (count, 1)


def test_worker_on_the_filesystem_broker_seals_the_ledger(transactional_db, var_dir):
    count = write_entries()
    (var_dir / "results").mkdir()
    worker = Worker(var_dir, "filesystem://", f"file://{var_dir / 'results'}")
    try:
        assert worker.run("core.tasks.ledger_seal_task") == count
        assert_sealed(count)
        # nothing new: the next run seals nothing
        assert worker.run("core.tasks.ledger_seal_task") == 0
        assert worker.run("core.tasks.ledger_verify_task") is True
    finally:
        worker.stop()
    assert "core.tasks.ledger_seal_task" in worker.log()


def test_worker_on_redis_seals_the_ledger(transactional_db, var_dir, redis_url):
    count = write_entries()
    worker = Worker(var_dir, f"{redis_url}/0", f"{redis_url}/1")
    try:
        assert worker.run("core.tasks.ledger_seal_task") == count
        assert_sealed(count)
    finally:
        worker.stop()
    assert "succeeded" in worker.log()
