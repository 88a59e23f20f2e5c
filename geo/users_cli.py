"""`geo users`: add, disable/enable, change role or password, list."""
from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from geo import users
from geo.access import ROLE_TITLES
from geo.db import make_engine
from geo.settings import DatabaseSettings

app = typer.Typer(help="Người dùng và vai trò / users and roles", no_args_is_help=True)
console = Console()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("Mật khẩu / password", hide_input=True, confirmation_prompt=True)


@app.command("add")
def add(username: str, role: Annotated[str, typer.Option(help="public | ip_authority | department | admin")],
        name: Annotated[str | None, typer.Option(help="display name")] = None,
        password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False) -> None:
    """Thêm người dùng / add a user (the password is asked, or read from stdin)."""
    user = users.add_user(make_engine(DatabaseSettings()), username, _password(password_stdin), role, name)
    console.print(f"user {user.username} added with role {user.role.value}")


@app.command("disable")
def disable(username: str) -> None:
    """Khóa tài khoản / disable an account (its sessions end at once)."""
    users.set_disabled(make_engine(DatabaseSettings()), username, True)
    console.print(f"user {username} disabled")


@app.command("enable")
def enable(username: str) -> None:
    users.set_disabled(make_engine(DatabaseSettings()), username, False)
    console.print(f"user {username} enabled")


@app.command("set-role")
def set_role(username: str, role: str) -> None:
    """Đổi vai trò / change a user's role (its sessions end at once)."""
    users.set_role(make_engine(DatabaseSettings()), username, role)
    console.print(f"user {username} now has role {role}")


@app.command("password")
def password(username: str, password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False) -> None:
    users.set_password(make_engine(DatabaseSettings()), username, _password(password_stdin))
    console.print(f"password of {username} changed")


@app.command("list")
def list_() -> None:
    table = Table(title="Người dùng / users")
    for c in ("username", "name", "role", "vai trò", "disabled"):
        table.add_column(c)
    for u in users.list_users(make_engine(DatabaseSettings())):
        table.add_row(u.username, u.display_name or "", u.role.value, ROLE_TITLES[u.role][0], str(u.disabled))
    console.print(table)
