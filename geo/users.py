"""User accounts: argon2id password hashes, roles, disabling, and throttled authentication."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, text

from geo.access import LOGIN_ROLES, Role
from geo.errors import GeoError

_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
MIN_PASSWORD = 10
MAX_FAILURES = 5  # per username and per client address, within WINDOW
WINDOW = timedelta(minutes=15)
# Compared against when the user does not exist, so a wrong username costs the same time as a wrong password.
_DUMMY = _HASHER.hash("not a real password, only for timing")


class AccountError(GeoError):
    """A user-management request that cannot be done (unknown user, weak password, bad role)."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str | None
    role: Role
    disabled: bool


def _role(role: str) -> Role:
    if role not in {r.value for r in LOGIN_ROLES}:
        raise AccountError(f"vai trò không hợp lệ / unknown role {role!r}; roles: "
                           f"{', '.join(r.value for r in LOGIN_ROLES)}")
    return Role(role)


def add_user(engine: Engine, username: str, password: str, role: str, display_name: str | None = None) -> User:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"mật khẩu quá ngắn / password too short (at least {MIN_PASSWORD} characters)")
    r = _role(role)
    with engine.begin() as conn:
        if conn.execute(text("SELECT 1 FROM users WHERE username = :u"), {"u": username}).first():
            raise AccountError(f"người dùng đã có / user {username!r} already exists")
        uid = conn.execute(text("INSERT INTO users (username, display_name, password_hash, role) "
                                "VALUES (:u, :d, :h, :r) RETURNING id"),
                           {"u": username, "d": display_name, "h": _HASHER.hash(password), "r": r.value}).scalar()
    return User(uid, username, display_name, r, False)


def _update(engine: Engine, username: str, sql: str, params: dict) -> None:
    with engine.begin() as conn:
        if conn.execute(text(sql), {"u": username, **params}).rowcount == 0:
            raise AccountError(f"không có người dùng / no user {username!r}")
        # Any change of rights ends the user's open sessions: they log in again under the new rules.
        conn.execute(text("UPDATE sessions SET revoked_at = now() WHERE revoked_at IS NULL AND user_id = "
                          "(SELECT id FROM users WHERE username = :u)"), {"u": username})


def set_disabled(engine: Engine, username: str, disabled: bool = True) -> None:
    _update(engine, username, "UPDATE users SET disabled = :d WHERE username = :u", {"d": disabled})


def set_role(engine: Engine, username: str, role: str) -> None:
    _update(engine, username, "UPDATE users SET role = :r WHERE username = :u", {"r": _role(role).value})


def set_password(engine: Engine, username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"mật khẩu quá ngắn / password too short (at least {MIN_PASSWORD} characters)")
    _update(engine, username, "UPDATE users SET password_hash = :h WHERE username = :u",
            {"h": _HASHER.hash(password)})


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, username, display_name, role, disabled FROM users ORDER BY username"))
        return [User(r.id, r.username, r.display_name, Role(r.role), r.disabled) for r in rows]


def throttled(engine: Engine, username: str, address: str, now: datetime | None = None) -> bool:
    """Too many recent failures for this username or from this address: refuse without checking."""
    since = (now or datetime.now(timezone.utc)) - WINDOW
    with engine.connect() as conn:
        n_user, n_addr = conn.execute(text(
            "SELECT count(*) FILTER (WHERE username = :u), count(*) FILTER (WHERE address = :a) "
            "FROM login_attempts WHERE NOT success AND at > :s"), {"u": username, "a": address, "s": since}).one()
    return n_user >= MAX_FAILURES or n_addr >= MAX_FAILURES * 4


def authenticate(engine: Engine, username: str, password: str, address: str) -> User | None:
    """The user if the password is right, the account enabled and the attempt not throttled; else None."""
    if throttled(engine, username, address):
        _record(engine, username, address, False)
        return None
    with engine.connect() as conn:
        row = conn.execute(text("SELECT id, username, display_name, role, disabled, password_hash FROM users "
                                "WHERE username = :u"), {"u": username}).first()
    ok = False
    try:
        ok = _HASHER.verify(row.password_hash if row else _DUMMY, password) and row is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    ok = ok and not row.disabled
    _record(engine, username, address, ok)
    return User(row.id, row.username, row.display_name, Role(row.role), row.disabled) if ok else None


def _record(engine: Engine, username: str, address: str, success: bool) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO login_attempts (username, address, success) VALUES (:u, :a, :s)"),
                     {"u": username, "a": address, "s": success})
        if success:
            conn.execute(text("UPDATE users SET last_login_at = now() WHERE username = :u"), {"u": username})
