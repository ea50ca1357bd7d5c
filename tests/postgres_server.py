"""A real PostgreSQL server for tests (Debian's package), for runs on the PostgreSQL job store
(`pytest --job-store=postgresql`): started on a free loopback port the first time a stack
needs a database, stopped by pid when the test session ends, with a fresh database per stack.

PostgreSQL refuses to run as root, so as root it runs as the `postgres` user (runuser); its
folder is then that user's. Durability is traded for speed (fsync off): a test database is
thrown away with the server (research/scale.md §2)."""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import psycopg

from tests.stack import free_port

SUPERUSER = "postgres"
PG_ROOT = Path("/usr/lib/postgresql")
MAX_CONNECTIONS = 400
"""Each API instance pools up to 20 connections; a multi-instance test runs several at once."""


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder, or None."""
    versions = sorted(
        (path for path in PG_ROOT.glob("*/bin") if (path / "postgres").exists()),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    return versions[-1] if versions else None


def why_no_postgresql() -> str | None:
    """Why no PostgreSQL server can be started here, or None."""
    if server_binaries() is None:
        return f"no PostgreSQL server under {PG_ROOT} (Debian's postgresql package; .ci/run installs it)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            return f"running as root needs the {SUPERUSER!r} user to run PostgreSQL as"
    return None


@dataclass
class PostgresServer:
    port: int = field(default_factory=free_port)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="slidereel-pg-")))
    pid: int | None = None
    _names: count = field(default_factory=lambda: count(1))

    def start(self) -> None:
        bin_dir = server_binaries()
        data = self.folder / "data"
        as_owner = self._as_owner()
        self._run(
            [
                *as_owner,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale",
                "C",
            ]
        )
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            f"-c synchronous_commit=off -c full_page_writes=off -c max_connections={MAX_CONNECTIONS}"
        )
        self._run(
            [
                *as_owner,
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(self.folder / "server.log"),
                "-w",
                "-t",
                "120",
                "-o",
                options,
                "start",
            ]
        )
        self.pid = int((data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        """Fast shutdown by pid (SIGINT: roll back what is open, close connections), then its folder goes."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGINT)
                give_up_at = time.monotonic() + 60
                while _alive(self.pid) and time.monotonic() < give_up_at:
                    time.sleep(0.05)
                if _alive(self.pid):
                    os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def new_database(self) -> str:
        """A new empty database's SQLAlchemy URL (asyncpg driver, as the API uses it)."""
        name = f"slidereel_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url("postgres", driver=None), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, database: str, driver: str | None = "asyncpg") -> str:
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _as_owner(self) -> list[str]:
        """The command prefix that runs the server's programs as the owner of its folder."""
        if os.geteuid() != 0:
            return []
        owner = pwd.getpwnam(SUPERUSER)
        os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self.folder.chmod(0o700)
        return ["runuser", "-u", SUPERUSER, "--"]

    @staticmethod
    def _run(command: list[str]) -> None:
        done = subprocess.run(command, capture_output=True, text=True, cwd="/")
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
