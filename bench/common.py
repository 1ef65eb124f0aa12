"""What the benchmarks share: a throwaway PostgreSQL server, free ports, the machine."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable

# As scripts/test: durability off, it is a benchmark's scratch database.
FAST = "-c fsync=off"
# For bulk loads of a million rows (bench_sweep): also no commit wait, bigger buffers.
BULK = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=4GB "
    "-c shared_buffers=256MB -c work_mem=32MB -c maintenance_work_mem=256MB"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pg_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if candidates:
        return candidates[-1].parent
    found = shutil.which("pg_ctl")
    if not found:
        sys.exit("PostgreSQL is not installed (scripts/setup --dev installs it).")
    return Path(found).parent


class Postgres:
    """A throwaway PostgreSQL server in ``base``/pg: trust auth, user ``refund``."""

    def __init__(self, base: Path, *, options: str = FAST) -> None:
        self.dir = base / "pg"
        self.dir.mkdir()
        self.port = free_port()
        self.options = options
        self.runas: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            self.runas = ["runuser", "-u", "postgres", "--"]
        self.bin = pg_bin()

    def _ctl(self, *args: str, check: bool = True) -> None:
        subprocess.run(
            [*self.runas, str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), *args],
            check=check,
            stdout=subprocess.DEVNULL,
            stderr=None if check else subprocess.DEVNULL,
        )

    def start(self) -> None:
        subprocess.run(
            [
                *self.runas,
                str(self.bin / "initdb"),
                "-D",
                str(self.dir / "data"),
                "-U",
                "refund",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            f"-c max_connections=100 {self.options}"
        )
        self._ctl("-l", str(self.dir / "log"), "-w", "-o", options, "start")

    def create(self, name: str) -> str:
        """A new database; its URL."""
        subprocess.run(
            [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port)]  # noqa: RUF005
            + ["-U", "refund", name],
            check=True,
        )
        return f"postgres://refund@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop", check=False)


def machine() -> str:
    """Cores, CPU model, memory and platform, for the report."""
    cpu = "unknown CPU"
    memory = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), {memory} memory, {platform.platform()}"
