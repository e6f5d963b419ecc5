"""A throwaway PostgreSQL server for `postgres`-marked tests, started from the Debian package's binaries."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayPostgres:
    """initdb + pg_ctl in a temporary directory; as root the server runs as the `postgres` user."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = _binary("initdb"), _binary("pg_ctl")
        self.directory = Path(tempfile.mkdtemp(prefix="mcc-pg-"))
        self.port = _free_port()

    @property
    def available(self) -> bool:
        return bool(self.initdb and self.pg_ctl)

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> str:
        assert self.initdb and self.pg_ctl
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
        data = str(self.directory / "data")
        self._run(self.initdb, "-D", data, "-A", "trust", "-U", "mcc", "--no-sync", "-E", "UTF8")
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run(self.pg_ctl, "-D", data, "-o", options, "-l", str(self.directory / "log"), "-w", "start")
        return f"postgresql://mcc@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.pg_ctl and (self.directory / "data").exists():
            self._run(self.pg_ctl, "-D", str(self.directory / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)
