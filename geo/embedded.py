"""The embedded local PostGIS cluster used when ``GEO_DATABASE_URL`` is not set: create, start, stop, report."""
from __future__ import annotations

import errno
import fcntl
import logging
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from geo.errors import EmbeddedDatabaseError
from geo.settings import DatabaseSettings

logger = logging.getLogger(__name__)

PG_MAJOR = "15"
# Debian/Ubuntu layout; used when no pg_config on PATH reports version 15 (libpq-dev's may be newer).
_DEBIAN_BINDIR = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
_DEBIAN_SHAREDIR = Path(f"/usr/share/postgresql/{PG_MAJOR}")
_CLUSTER_DIRNAME = "pg"
_LOG_NAME = "server.log"
_CONF_NAME = "embedded.conf"
_LOCK_NAME = "embedded.lock"
_EXTENSIONS = ("postgis", "btree_gist")
_TIMEOUT_S = 120
# Linux sun_path holds 108 bytes including the terminating NUL.
_MAX_SOCKET_PATH = 107
# Loopback only: the cluster trusts whoever can reach it, so it must be reachable from this machine only.
_PG_HBA = """\
# Written by geo.embedded: trust on loopback and the private unix socket only.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 trust
host    all       all   127.0.0.1/32  trust
"""


@dataclass(frozen=True)
class EmbeddedStatus:
    """What the embedded cluster looks like right now."""

    exists: bool
    running: bool
    port: int
    data_dir: Path
    url: str
    pid: int | None


@dataclass(frozen=True)
class _Binaries:
    bindir: Path
    sharedir: Path


@dataclass(frozen=True)
class _Cluster:
    """Where one cluster lives and which OS account runs its server (None: the current, non-root user)."""

    data_dir: Path
    pgdir: Path
    account: pwd.struct_passwd | None

    @property
    def log(self) -> Path:
        return self.pgdir / _LOG_NAME


def up(settings: DatabaseSettings) -> EmbeddedStatus:
    """Create the cluster if needed, start it if stopped, ensure the database and its extensions exist."""
    cluster = _cluster(settings)
    with _lock(cluster.data_dir):
        current = status(settings)
        if current.running and current.port != settings.embedded_port:
            raise EmbeddedDatabaseError(
                f"Cụm PostgreSQL nhúng trong {cluster.pgdir} đang chạy ở cổng {current.port}, không phải "
                f"{settings.embedded_port} / the embedded cluster in {cluster.pgdir} is running on port "
                f"{current.port}, not GEO_EMBEDDED_PORT={settings.embedded_port}: stop it (down) first")
        if not current.running:
            binaries = _binaries()
            _check_port_free(settings.embedded_port)
            _grant_traversal(cluster)
            if not current.exists:
                _create(cluster, binaries, settings)
            _start(cluster, binaries, settings)
        # Also when it was already running: an earlier up() may have failed after starting the server.
        _ensure_database(cluster, settings)
    return status(settings)


def down(settings: DatabaseSettings) -> EmbeddedStatus:
    """Stop the cluster (fast shutdown) if it runs; nothing to do when stopped or never created."""
    current = status(settings)
    if not current.running:
        return current
    cluster = _cluster(settings)
    with _lock(cluster.data_dir):
        if status(settings).running:
            pg_ctl = str(_binaries().bindir / "pg_ctl")
            _run(cluster, [pg_ctl, "stop", "-D", str(cluster.pgdir), "-m", "fast", "-w", "-t", str(_TIMEOUT_S)],
                 "Không dừng được PostgreSQL nhúng / cannot stop the embedded PostgreSQL")
    return status(settings)


def status(settings: DatabaseSettings) -> EmbeddedStatus:
    """Report whether the cluster exists and runs, on which port, and its URL."""
    data_dir = _data_dir(settings)
    pgdir = data_dir / _CLUSTER_DIRNAME
    try:
        exists = (pgdir / "PG_VERSION").is_file()
    except PermissionError as exc:
        raise EmbeddedDatabaseError(
            f"Không đọc được {pgdir} / cannot read the embedded cluster in {pgdir}: {exc}") from exc
    pid, port = _postmaster(pgdir) if exists else (None, None)
    port = port if port is not None else settings.embedded_port
    url = settings.model_copy(update={"database_url": None, "embedded_port": port}).url()
    return EmbeddedStatus(exists=exists, running=pid is not None, port=port, data_dir=data_dir, url=url, pid=pid)


def _data_dir(settings: DatabaseSettings) -> Path:
    """The absolute data dir; a relative setting is taken from the current working directory."""
    return (Path.cwd() / settings.data_dir.expanduser()).resolve()


def _cluster(settings: DatabaseSettings) -> _Cluster:
    data_dir = _data_dir(settings)
    pgdir = data_dir / _CLUSTER_DIRNAME
    return _Cluster(data_dir=data_dir, pgdir=pgdir, account=_server_account(pgdir))


def _server_account(pgdir: Path) -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: as root, pick the unprivileged account that owns (or will own) the cluster."""
    if os.geteuid() != 0:
        return None
    try:
        owner = pgdir.stat().st_uid
    except FileNotFoundError:
        owner = 0
    if owner != 0:
        try:
            return pwd.getpwuid(owner)
        except KeyError as exc:
            raise EmbeddedDatabaseError(
                f"Chủ sở hữu của {pgdir} (uid {owner}) không có trong hệ thống / the owner of {pgdir} "
                f"(uid {owner}) is not a known user") from exc
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue  # try the next candidate; the error below covers none found
    raise EmbeddedDatabaseError(
        "Không có tài khoản không đặc quyền để chạy PostgreSQL / no unprivileged account (postgres, nobody) "
        "to run PostgreSQL as: PostgreSQL refuses to run as root")


def _postmaster(pgdir: Path) -> tuple[int | None, int | None]:
    """The (pid, port) of the live server of this cluster, from postmaster.pid, or (None, None)."""
    try:
        lines = (pgdir / "postmaster.pid").read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return None, None
    except PermissionError as exc:
        raise EmbeddedDatabaseError(
            f"Không đọc được {pgdir} / cannot read the embedded cluster in {pgdir}: {exc}") from exc
    # Line 1 is the pid, line 4 the port (src/include/utils/pidfile.h); a truncated file is a
    # server mid-start or a crash leftover, which pg_ctl start sorts out on its own.
    if len(lines) < 4 or not lines[0].strip().isdigit() or not lines[3].strip().isdigit():
        return None, None
    pid = int(lines[0])
    return (pid, int(lines[3])) if _is_postgres(pid) else (None, None)


def _is_postgres(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another account: still check what it is below
    if not Path("/proc/self").exists():
        return True
    # After a container restart a stale postmaster.pid may name a recycled pid: check it is a postgres.
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() in ("postgres", "postmaster")
    except FileNotFoundError:
        return False  # exited between the two checks


def _binaries() -> _Binaries:
    """Find PostgreSQL 15's programs and check PostGIS is installed for it."""
    found = None
    for pg_config in (shutil.which("pg_config"), str(_DEBIAN_BINDIR / "pg_config")):
        if not pg_config or not Path(pg_config).is_file():
            continue
        proc = subprocess.run([pg_config, "--version", "--bindir", "--sharedir"],
                              capture_output=True, text=True, check=False)
        lines = proc.stdout.splitlines()
        if proc.returncode == 0 and len(lines) == 3 and re.match(rf"PostgreSQL {PG_MAJOR}\b", lines[0]):
            found = _Binaries(Path(lines[1]), Path(lines[2]))
            break
    if found is None and (_DEBIAN_BINDIR / "initdb").is_file():
        found = _Binaries(_DEBIAN_BINDIR, _DEBIAN_SHAREDIR)
    if found is None or not all((found.bindir / p).is_file() for p in ("initdb", "pg_ctl", "postgres")):
        raise EmbeddedDatabaseError(
            f"Không tìm thấy PostgreSQL {PG_MAJOR} / PostgreSQL {PG_MAJOR} binaries not found (pg_config "
            f"--bindir, {_DEBIAN_BINDIR}): install postgresql-{PG_MAJOR} and postgresql-{PG_MAJOR}-postgis-3")
    missing = [e for e in _EXTENSIONS if not (found.sharedir / "extension" / f"{e}.control").is_file()]
    if missing:
        raise EmbeddedDatabaseError(
            f"Thiếu phần mở rộng {', '.join(missing)} cho PostgreSQL {PG_MAJOR} / extension(s) "
            f"{', '.join(missing)} not installed in {found.sharedir}: install postgresql-{PG_MAJOR}-postgis-3")
    return found


def _check_port_free(port: int) -> None:
    if not 1 <= port <= 65535:
        raise EmbeddedDatabaseError(
            f"Cổng {port} không hợp lệ / invalid port {port}: set GEO_EMBEDDED_PORT to 1-65535")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Same option the server sets, so a port in TIME_WAIT does not count as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise EmbeddedDatabaseError(
                    f"Không dùng được cổng {port} / cannot use port {port} on 127.0.0.1 ({exc}): "
                    f"choose another port with GEO_EMBEDDED_PORT") from exc
            raise EmbeddedDatabaseError(
                f"Cổng {port} đang được chương trình khác sử dụng / port {port} on 127.0.0.1 is already in "
                f"use by another program: stop it or choose another port with GEO_EMBEDDED_PORT") from exc


@contextmanager
def _lock(data_dir: Path) -> Iterator[None]:
    """Serialise up()/down() on one data dir (e.g. parallel test workers all calling up())."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / _LOCK_NAME).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _user_prefix(cluster: _Cluster) -> list[str]:
    """The command prefix that runs a program as the cluster's account (empty when not root)."""
    if cluster.account is None:
        return []
    name = cluster.account.pw_name
    if runuser := shutil.which("runuser"):
        return [runuser, "-u", name, "--"]
    if setpriv := shutil.which("setpriv"):
        return [setpriv, f"--reuid={cluster.account.pw_uid}", f"--regid={cluster.account.pw_gid}",
                "--init-groups", "--"]
    raise EmbeddedDatabaseError(
        f"Cần runuser hoặc setpriv để chạy PostgreSQL dưới tài khoản {name} / runuser or setpriv (util-linux) "
        f"is needed to run PostgreSQL as {name}: PostgreSQL refuses to run as root")


def _run(cluster: _Cluster, command: Sequence[str], failure: str,
         log_from: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL program as the cluster's account; failures become EmbeddedDatabaseError with context."""
    # PG* variables (PGDATA, PGPORT, PGHOST...) would silently redirect the programs to another cluster.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    try:
        # cwd "/" because the unprivileged account may not be able to enter the caller's directory;
        # a new session keeps the server out of the terminal's Ctrl-C.
        proc = subprocess.run([*_user_prefix(cluster), *command], capture_output=True, text=True, env=env,
                              cwd="/", timeout=_TIMEOUT_S + 30, check=False, start_new_session=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EmbeddedDatabaseError(f"{failure}: {exc}{_log_context(cluster, log_from)}") from exc
    if proc.returncode != 0:
        output = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise EmbeddedDatabaseError(
            f"{failure}: {Path(command[0]).name} exited with {proc.returncode}\n{output}"
            f"{_log_context(cluster, log_from)}")
    return proc


def _log_context(cluster: _Cluster, start: int | None, lines: int = 20) -> str:
    """The tail of the server log written since byte ``start``, for error messages."""
    if start is None:
        return ""
    try:
        with cluster.log.open("rb") as handle:
            handle.seek(max(start, handle.seek(0, os.SEEK_END) - 16384))
            text = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return f"\n(no server log at {cluster.log})"
    except OSError as exc:
        return f"\n(server log {cluster.log} unreadable: {exc})"
    tail = "\n".join(text.strip().splitlines()[-lines:])
    return f"\n--- {cluster.log} ---\n{tail}" if tail else f"\n(server log {cluster.log} is empty)"


def _log_size(cluster: _Cluster) -> int:
    try:
        return cluster.log.stat().st_size
    except FileNotFoundError:
        return 0


def _grant_traversal(cluster: _Cluster) -> None:
    """Give the server account search (x) permission on the ancestors of the cluster it cannot pass through."""
    if cluster.account is None:
        return
    ancestors = list(reversed(cluster.pgdir.parents))  # "/" first
    granted: list[Path] = []
    start = 0
    while (blocked := _first_untraversable(cluster, ancestors[start:])) is not None:
        if blocked in granted:
            raise EmbeddedDatabaseError(
                f"Tài khoản {cluster.account.pw_name} vẫn không vào được {blocked} / account "
                f"{cluster.account.pw_name} still cannot enter {blocked} after granting search permission: "
                f"set GEO_DATA_DIR to a directory it can reach")
        _grant_search(blocked, cluster.account.pw_name)
        granted.append(blocked)
        start = ancestors.index(blocked)


def _first_untraversable(cluster: _Cluster, dirs: list[Path]) -> Path | None:
    """The outermost of ``dirs`` the cluster's account cannot search, asked as that account (ACLs count)."""
    if not dirs:
        return None
    script = 'for d; do if [ -x "$d" ]; then echo y; else echo n; fi; done'
    proc = _run(cluster, ["/bin/sh", "-c", script, "sh", *map(str, dirs)],
                f"Không kiểm tra được quyền thư mục / cannot check directory permissions as "
                f"{cluster.account.pw_name if cluster.account else 'current user'}")
    answers = proc.stdout.split()
    if len(answers) != len(dirs):
        raise EmbeddedDatabaseError(f"Unexpected permission check output: {proc.stdout!r}")
    return next((d for d, ok in zip(dirs, answers) if ok == "n"), None)


def _grant_search(directory: Path, user: str) -> None:
    # chmod o+x (search only: no listing, no reading). An ACL entry (setfacl) was tried first and broke the
    # cluster on some file systems (the server then could not open its own pg_control), so plain bits it is.
    how = "chmod o+x"
    try:
        os.chmod(directory, stat.S_IMODE(directory.stat().st_mode) | stat.S_IXOTH)
    except OSError as exc:
        raise EmbeddedDatabaseError(f"{how} {directory} failed: {exc}") from exc
    message = (f"Đã cấp quyền đi qua (x) thư mục {directory} cho {user} / granted search (x) permission on "
               f"{directory} to {user} ({how}) so the embedded PostgreSQL server can reach its data")
    logger.warning(message)


def _create(cluster: _Cluster, binaries: _Binaries, settings: DatabaseSettings) -> None:
    """initdb a new cluster: UTF8, superuser ``embedded_user``, trust on loopback only."""
    cluster.pgdir.mkdir(parents=True, exist_ok=True)
    if any(cluster.pgdir.iterdir()):
        raise EmbeddedDatabaseError(
            f"{cluster.pgdir} không rỗng nhưng không phải một cụm PostgreSQL / {cluster.pgdir} is not empty "
            f"but holds no PostgreSQL cluster: remove it, or set GEO_DATA_DIR elsewhere")
    _give(cluster, cluster.pgdir)
    os.chmod(cluster.pgdir, 0o700)
    logger.info("Creating the embedded PostgreSQL cluster in %s", cluster.pgdir)
    _run(cluster, [str(binaries.bindir / "initdb"), "-D", str(cluster.pgdir), "-U", settings.embedded_user,
                   "-E", "UTF8", "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=trust"],
         f"Không tạo được cụm PostgreSQL / initdb failed in {cluster.pgdir}")
    _write(cluster, cluster.pgdir / "pg_hba.conf", _PG_HBA)
    # Port and socket live in an included file rewritten at every start, so GEO_EMBEDDED_PORT and a
    # moved data dir take effect without touching postgresql.conf again.
    with (cluster.pgdir / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write(f"\n# Added by geo.embedded\ninclude_if_exists = '{_CONF_NAME}'\n")


def _start(cluster: _Cluster, binaries: _Binaries, settings: DatabaseSettings) -> None:
    _write(cluster, cluster.pgdir / _CONF_NAME, _server_conf(cluster, settings.embedded_port))
    log_from = _log_size(cluster)
    _run(cluster, [str(binaries.bindir / "pg_ctl"), "start", "-D", str(cluster.pgdir), "-l", str(cluster.log),
                   "-w", "-t", str(_TIMEOUT_S)],
         f"Không khởi động được PostgreSQL nhúng / cannot start the embedded PostgreSQL in {cluster.pgdir} "
         f"on port {settings.embedded_port}", log_from=log_from)
    logger.info("Embedded PostgreSQL running on 127.0.0.1:%s (%s)", settings.embedded_port, cluster.pgdir)


def _server_conf(cluster: _Cluster, port: int) -> str:
    socket_dir = str(cluster.pgdir)
    if len(f"{socket_dir}/.s.PGSQL.{port}") > _MAX_SOCKET_PATH:
        # The server refuses to start with an over-long socket path; TCP on loopback is all we need.
        logger.warning("Data dir path too long for a unix socket; the embedded cluster listens on TCP only")
        socket_dir = ""
    quoted = socket_dir.replace("\\", "\\\\").replace("'", "''")
    return ("# Written by geo.embedded at every start: edit GEO_EMBEDDED_PORT, not this file.\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {port}\n"
            f"unix_socket_directories = '{quoted}'\n")


def _write(cluster: _Cluster, path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    _give(cluster, path)


def _give(cluster: _Cluster, path: Path) -> None:
    """Hand a file or dir we (root) made over to the server account."""
    if cluster.account is not None:
        os.chown(path, cluster.account.pw_uid, cluster.account.pw_gid)


def _ensure_database(cluster: _Cluster, settings: DatabaseSettings) -> None:
    """Create ``embedded_db`` if missing, with PostGIS and btree_gist."""
    def connect(dbname: str) -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=settings.embedded_port, user=settings.embedded_user,
                               dbname=dbname, connect_timeout=10, autocommit=True)
    try:
        with connect("postgres") as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (settings.embedded_db,)).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings.embedded_db)))
        with connect(settings.embedded_db) as conn:
            for extension in _EXTENSIONS:
                conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension)))
    except psycopg.Error as exc:
        raise EmbeddedDatabaseError(
            f"Không chuẩn bị được cơ sở dữ liệu {settings.embedded_db} / cannot prepare database "
            f"{settings.embedded_db} on 127.0.0.1:{settings.embedded_port}: {exc}"
            f"{_log_context(cluster, max(_log_size(cluster) - 4096, 0))}") from exc
