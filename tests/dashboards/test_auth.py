"""Logins, sessions, CSRF, throttling and the callback guard, against the real app and database."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import text

from dashboards import auth
from geo import users
from geo.users import MAX_FAILURES

PASSWORD = "correct horse battery"


@pytest.fixture
def accounts(air_db):
    with air_db.begin() as conn:
        conn.execute(text("TRUNCATE users, sessions, login_attempts RESTART IDENTITY CASCADE"))
    users.add_user(air_db, "dept", PASSWORD, "department", "Cán bộ Sở")
    users.add_user(air_db, "ipa", PASSWORD, "ip_authority")
    return air_db


def login(client, username: str, password: str = PASSWORD, next_path: str = "/"):  # type: ignore[no-untyped-def]
    form = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    return client.post("/login", data={"csrf_token": token, "username": username, "password": password,
                                       "next": next_path})


def test_login_sets_http_only_session_and_csrf_cookies(app, accounts):
    client = app.server.test_client()
    r = login(client, "dept")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    cookies = r.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith(auth.SESSION_COOKIE + "="))
    assert "HttpOnly" in session and "SameSite=Lax" in session
    with accounts.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM sessions")).scalar_one()
    token = session.split(";")[0].split("=", 1)[1]
    assert stored != token and len(stored) == 64  # only a hash of the token is kept


def test_wrong_password_and_missing_csrf_are_refused(app, accounts):
    client = app.server.test_client()
    assert login(client, "dept", "wrong password!").status_code == 401
    assert client.post("/login", data={"username": "dept", "password": PASSWORD}).status_code == 403


def test_login_is_throttled_after_repeated_failures(app, accounts):
    client = app.server.test_client()
    for _ in range(MAX_FAILURES):
        assert login(client, "dept", "wrong password!").status_code == 401
    assert login(client, "dept").status_code == 401  # even the right password, until the window passes
    with accounts.begin() as conn:
        conn.execute(text("UPDATE login_attempts SET at = at - :w"), {"w": timedelta(minutes=16)})
    assert login(client, "dept").status_code == 302


def test_open_redirect_is_not_possible(app, accounts):
    client = app.server.test_client()
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        r = login(client, "dept", next_path=target)
        assert r.headers["Location"] == "/"


def test_logout_revokes_and_a_replayed_cookie_is_anonymous(app, accounts):
    client = app.server.test_client()
    login(client, "dept")
    token = client.get_cookie(auth.SESSION_COOKIE).value
    csrf = client.get_cookie(auth.CSRF_COOKIE).value
    assert client.post("/logout").status_code == 403  # no CSRF token: refused
    assert client.post("/logout", headers={"X-CSRFToken": csrf}).status_code == 302
    with app.server.test_request_context(headers={"Cookie": f"{auth.SESSION_COOKIE}={token}"}):
        auth._load_session(app.server.config["GEO_CONTEXT"])
        assert auth.current_user() is None  # the replayed cookie is nobody
    with accounts.connect() as conn:
        assert conn.execute(text("SELECT revoked_at IS NOT NULL FROM sessions")).scalar_one()


def test_expired_session_is_anonymous(app, accounts):
    client = app.server.test_client()
    login(client, "dept")
    with accounts.begin() as conn:
        conn.execute(text("UPDATE sessions SET expires_at = now() - interval '1 second'"))
    with app.server.test_request_context(headers={"Cookie": f"{auth.SESSION_COOKIE}="
                                                            f"{client.get_cookie(auth.SESSION_COOKIE).value}"}):
        auth._load_session(app.server.config["GEO_CONTEXT"])
        assert auth.current_user() is None


@pytest.mark.parametrize("change", ["disable", "role"])
def test_disabling_or_changing_role_ends_sessions(app, accounts, change):
    client = app.server.test_client()
    login(client, "dept")
    if change == "disable":
        users.set_disabled(accounts, "dept")
    else:
        users.set_role(accounts, "dept", "public")
    cookie = client.get_cookie(auth.SESSION_COOKIE).value
    with app.server.test_request_context(headers={"Cookie": f"{auth.SESSION_COOKIE}={cookie}"}):
        auth._load_session(app.server.config["GEO_CONTEXT"])
        assert auth.current_user() is None
    if change == "disable":
        assert login(client, "dept").status_code == 401


def test_callbacks_of_a_session_need_the_csrf_header(app, accounts):
    client = app.server.test_client()
    login(client, "dept")
    body = {"output": "air-panel.children", "outputs": {"id": "air-panel", "property": "children"},
            "inputs": [{"id": "air-selected", "property": "data", "value": None},
                       {"id": "air-scheme", "property": "value", "value": "vn"},
                       {"id": "air-lang", "property": "data", "value": "vi"},
                       {"id": "air-refresh", "property": "n_intervals", "value": None}],
            "changedPropIds": [], "state": []}
    assert client.post("/_dash-update-component", json=body).status_code == 403
    csrf = client.get_cookie(auth.CSRF_COOKIE).value
    r = client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": csrf})
    assert r.status_code in (200, 204)


def test_passwords_are_argon2id_and_short_ones_refused(accounts):
    with accounts.connect() as conn:
        h = conn.execute(text("SELECT password_hash FROM users WHERE username = 'dept'")).scalar_one()
    assert h.startswith("$argon2id$")
    with pytest.raises(users.AccountError, match="too short"):
        users.add_user(accounts, "short", "abc", "public")
    with pytest.raises(users.AccountError, match="unknown role"):
        users.add_user(accounts, "x-user", PASSWORD, "superuser")


def test_read_only_role_cannot_write_or_read_restricted(app):
    actx = app.server.config["GEO_CONTEXT"]
    with actx.public_engine.connect() as conn:
        with pytest.raises(Exception, match="permission denied"):
            conn.execute(text("SELECT count(*) FROM polluted_sites"))
    with actx.public_engine.connect() as conn:
        with pytest.raises(Exception, match="permission denied"):
            conn.execute(text("DELETE FROM monitoring_stations"))
    with actx.engine.connect() as conn:
        with pytest.raises(Exception, match="permission denied"):
            conn.execute(text("DELETE FROM industrial_parks"))
