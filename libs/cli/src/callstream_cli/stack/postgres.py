"""PostgreSQL from Debian's packages.

Its data directory sits inside the stack folder when the stack runs as an ordinary user. As
root, the server itself runs as the ``postgres`` account, which cannot reach a checkout under
a private folder (root's 0700 home, a mktemp directory): the data and socket then live in a
per-stack folder under ``postgres_state_root`` (``/var/lib/callstream/stacks``), owned by the
stack and removed by ``callstream stack clean``.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from callstream_cli.stack.component import Component, StackError
from callstream_cli.stack.settings import StackSettings

if TYPE_CHECKING:
    import asyncpg

#: OS account that owns the cluster when we are root (initdb and postgres refuse root).
POSTGRES_OS_USER = "postgres"


def find_postgres_bin_dir(settings: StackSettings) -> Path:
    """The folder with initdb and postgres: the setting, else the newest Debian install."""
    if settings.postgres_bin_dir is not None:
        return settings.postgres_bin_dir
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").is_file()]
    if candidates:
        return max(candidates, key=lambda p: int(re.sub(r"\D", "", p.parent.name) or 0))
    initdb = shutil.which("initdb")
    if initdb is not None:
        return Path(initdb).parent
    raise StackError("PostgreSQL server binaries not found; run scripts/bootstrap.sh")


def unreachable_ancestors(path: Path, uid: int, gid: int) -> list[Path]:
    """Ancestors of ``path`` that the given user cannot traverse (lacking an x bit).

    PostgreSQL runs as another user than root, so every folder above its data directory must
    be traversable by that user; pytest's temporary folders (mode 0700) are not.
    """
    blocked = []
    for parent in reversed(path.resolve().parents):
        st = parent.stat()
        if st.st_uid == uid:
            ok = bool(st.st_mode & 0o100)
        elif st.st_gid == gid:
            ok = bool(st.st_mode & 0o010)
        else:
            ok = bool(st.st_mode & 0o001)
        if not ok:
            blocked.append(parent)
    return blocked


#: Longest unix socket path Linux accepts (sun_path is 108 bytes with the final NUL).
MAX_SOCKET_PATH = 107

#: Has PostgreSQL itself quote identifiers (%I) and literals (%L) of utility statements, which
#: take no bind parameters, so names and passwords from settings are never pasted in raw.
FORMAT_SQL = "SELECT format($1::text, VARIADIC $2::text[])"


class Postgres(Component):
    """A PostgreSQL cluster listening on loopback TCP and a socket in the stack folder."""

    name = "postgres"
    product = "PostgreSQL"
    # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM ("smart") waits for every client.
    stop_signal = signal.SIGINT

    @property
    def home(self) -> Path:
        """Data and socket folder: in the stack folder, or the per-stack system folder as root."""
        if self.run_as is None:
            return super().home
        return self.settings.system_state_dir() / self.name

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def socket_dir(self) -> Path:
        return self.home / "run"

    @property
    def run_as(self) -> str | None:
        return POSTGRES_OS_USER if os.geteuid() == 0 else None

    def ports(self) -> list[int]:
        return [self.settings.postgres_port]

    def endpoint(self) -> str:
        return f"{self.settings.host}:{self.settings.postgres_port}"

    def prepare(self) -> None:
        bin_dir = find_postgres_bin_dir(self.settings)
        self.settings.logs_dir.mkdir(parents=True, exist_ok=True)
        socket = self.socket_dir / f".s.PGSQL.{self.settings.postgres_port}"
        if len(str(socket).encode()) > MAX_SOCKET_PATH:
            raise StackError(
                f"PostgreSQL's socket path {socket} is longer than the {MAX_SOCKET_PATH} bytes "
                "a unix socket allows: choose a shorter postgres_state_root or stack_dir"
            )
        user = self.run_as
        if user is not None:
            self._prepare_system_folder()
        self.home.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            try:
                account = pwd.getpwnam(user)
            except KeyError as exc:
                raise StackError(f"OS user {user!r} missing; run scripts/bootstrap.sh") from exc
            blocked = unreachable_ancestors(self.home, account.pw_uid, account.pw_gid)
            if blocked:
                raise StackError(
                    f"user {user!r} cannot reach {self.home}: no search permission on "
                    f"{', '.join(map(str, blocked))} (chmod o+x, or use another stack_dir)"
                )
            for path in (self.home, self.socket_dir):
                os.chown(path, account.pw_uid, account.pw_gid)
        if (self.data_dir / "PG_VERSION").is_file():
            return
        cmd = [
            str(bin_dir / "initdb"),
            "--pgdata",
            str(self.data_dir),
            "--username",
            "postgres",
            "--auth-local",
            "trust",
            "--auth-host",
            "scram-sha-256",
            "--encoding",
            "UTF8",
            "--no-locale",
            "--no-instructions",
        ]
        result = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            check=False,
            cwd=self.home,
            user=user,
            group=user,
            extra_groups=[] if user else None,
        )
        if result.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise StackError(f"initdb failed:\n{(result.stdout + result.stderr)[-3000:]}")

    def _prepare_system_folder(self) -> None:
        """Create the per-stack system folder, traversable by ``postgres`` and naming its owner.

        Only the folders this stack creates get a mode; an existing state root keeps its own.
        """
        state = self.settings.system_state_dir()
        for folder in (*reversed(state.parents), state):
            if not folder.exists():
                folder.mkdir()
                folder.chmod(0o755)
        (state / "OWNER").write_text(f"{self.settings.stack_dir.resolve()}\n")

    def remove_state(self) -> bool:
        """Delete the data and socket folders (the server must be stopped); True if any were."""
        folder = self.settings.system_state_dir() if self.run_as is not None else self.home
        existed = folder.exists()
        shutil.rmtree(folder, ignore_errors=True)
        return existed

    def argv(self) -> list[str]:
        # Through nice(1): the niceness is set before exec, so every backend the server
        # forks inherits it.
        niced = (
            ["nice", "-n", str(self.settings.postgres_nice)] if self.settings.postgres_nice else []
        )
        return [
            *niced,
            str(find_postgres_bin_dir(self.settings) / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.settings.postgres_port),
            "-h",
            self.settings.host,
            "-k",
            str(self.socket_dir),
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=128MB",
            "-c",
            "log_line_prefix=%m [%p] %q%u@%d ",
        ]

    async def _superuser(self) -> asyncpg.Connection:
        """Connection as the cluster superuser over the private unix socket (trust auth)."""
        import asyncpg  # client libraries load only when used

        return await asyncpg.connect(
            host=str(self.socket_dir),
            port=self.settings.postgres_port,
            user="postgres",
            database="postgres",
            timeout=5,
        )

    async def ready(self) -> None:
        conn = await self._superuser()
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await conn.close()

    async def provision(self) -> None:
        s = self.settings
        password = s.postgres_password.get_secret_value()
        conn = await self._superuser()
        try:
            exists = await conn.fetchval(
                "SELECT 1 FROM pg_roles WHERE rolname = $1", s.postgres_user
            )
            verb = "ALTER" if exists else "CREATE"
            # ALTER on every start keeps the password in step with the settings.
            stmt = await conn.fetchval(
                FORMAT_SQL,
                f"{verb} ROLE %I WITH LOGIN CREATEDB PASSWORD %L",
                [s.postgres_user, password],
            )
            await conn.execute(stmt)
            has_db = await conn.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", s.postgres_db
            )
            if not has_db:
                stmt = await conn.fetchval(
                    FORMAT_SQL, "CREATE DATABASE %I OWNER %I", [s.postgres_db, s.postgres_user]
                )
                await conn.execute(stmt)
        finally:
            await conn.close()

    async def check(self) -> str:
        """Log in over TCP with the application's credentials, as the services will."""
        import asyncpg

        s = self.settings
        conn = await asyncpg.connect(
            host=s.host,
            port=s.postgres_port,
            user=s.postgres_user,
            password=s.postgres_password.get_secret_value(),
            database=s.postgres_db,
            timeout=5,
        )
        try:
            version = await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()
        return f"{self.product} {version}"

    async def version(self) -> str:
        conn = await self._superuser()
        try:
            version = await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()
        return f"{self.product} {version}"
