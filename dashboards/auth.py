"""Server-side sessions, login/logout with CSRF, and the access checks every route and callback goes through."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

from flask import Flask, Response, abort, g, has_request_context, redirect, request
from sqlalchemy import Engine, text

from dashboards.context import AppContext
from geo.access import Role, can_see
from geo.users import User
from layers import REGISTRY

SESSION_COOKIE = "geo_session"
CSRF_COOKIE = "_csrf_token"  # read by the Dash renderer and sent back as the X-CSRFToken header
LOGIN_CSRF_COOKIE = "geo_login_csrf"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def current_role() -> Role:
    user = getattr(g, "user", None)
    return user.role if user is not None else Role.ANONYMOUS


def current_user() -> User | None:
    return getattr(g, "user", None)


def layer_level(actx: AppContext, layer: str) -> str:
    """The layer's access level: an administrator's override, else the registry's default."""
    # One version check per request, not per call: a tile request asks several times.
    memo = g.get("_layer_overrides") if has_request_context() else None
    if memo is None:
        memo = actx.cache.get_or_compute(("layer_access",), ("layer_access",), lambda: _overrides(actx.engine))
        if has_request_context():
            g._layer_overrides = memo
    return memo.get(layer, REGISTRY.get(layer).access.value)


def _overrides(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT layer, level FROM layer_access")).all())


def visible_layers(actx: AppContext, role: Role | None = None) -> list[str]:
    role = role or current_role()
    return [s.name for s in REGISTRY if can_see(role, layer_level(actx, s.name))]


def require_layer(actx: AppContext, layer: str) -> None:
    """404 for a layer that does not exist or that this user may not see (no hint that it exists)."""
    if layer not in REGISTRY or not can_see(current_role(), layer_level(actx, layer)):
        abort(404)


def _load_session(actx: AppContext) -> None:
    g.user, g.session = None, None
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return
    sec = actx.settings.security
    now = datetime.now(timezone.utc)
    with actx.engine.begin() as conn:
        row = conn.execute(text(
            "SELECT s.token_hash, s.csrf_token, s.last_seen_at, u.id, u.username, u.display_name, u.role, u.disabled "
            "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = :h AND s.revoked_at IS NULL "
            "AND s.expires_at > :now AND s.last_seen_at > :idle AND NOT u.disabled"),
            {"h": _hash(token), "now": now, "idle": now - timedelta(minutes=sec.idle_minutes)}).first()
        if row is None:
            return
        if now - row.last_seen_at > timedelta(seconds=60):  # not on every request: one write a minute
            conn.execute(text("UPDATE sessions SET last_seen_at = :now WHERE token_hash = :h"),
                         {"now": now, "h": row.token_hash})
    g.user = User(row.id, row.username, row.display_name, Role(row.role), row.disabled)
    g.session = {"token_hash": row.token_hash, "csrf": row.csrf_token}


def _csrf_ok(expected: str | None) -> bool:
    sent = request.headers.get("X-CSRFToken") or request.form.get("csrf_token") or ""
    return bool(expected) and hmac.compare_digest(sent, expected)


def _safe_next(target: str | None) -> str:
    """Only local paths: a login link must not be usable to send people elsewhere."""
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def start_session(actx: AppContext, user: User, response: Response) -> None:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    sec = actx.settings.security
    with actx.engine.begin() as conn:
        conn.execute(text("INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at, address) "
                          "VALUES (:h, :u, :c, now() + make_interval(secs => :s), :a)"),
                     {"h": _hash(token), "u": user.id, "c": csrf, "s": sec.session_hours * 3600,
                      "a": request.remote_addr or ""})
    max_age = int(sec.session_hours * 3600)
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, secure=sec.secure_cookies,
                        samesite="Lax")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, httponly=False, secure=sec.secure_cookies,
                        samesite="Strict")


def end_session(actx: AppContext, response: Response) -> None:
    if getattr(g, "session", None):
        with actx.engine.begin() as conn:
            conn.execute(text("UPDATE sessions SET revoked_at = now() WHERE token_hash = :h"),
                         {"h": g.session["token_hash"]})
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)


def install(server: Flask, actx: AppContext, guards: dict[str, Role | None]) -> None:
    """Hook sessions and checks into every request.

    ``guards`` maps a Dash component-id prefix (one per page) to the lowest role allowed to run its callbacks;
    a callback whose outputs belong to a guarded page is refused for anyone below it, whatever the inputs say.
    """
    from dashboards import login_page

    @server.before_request
    def _before() -> Response | None:
        _load_session(actx)
        if request.method == "POST" and request.path.endswith("/_dash-update-component"):
            return _guard_callback(guards)
        return _guard_page()

    server.register_blueprint(login_page.blueprint(actx))


def _outputs(body: dict) -> list[str]:
    out = body.get("outputs")
    items = out if isinstance(out, list) else [out]
    ids = []
    for item in items:
        if isinstance(item, dict):
            cid = item.get("id")
            ids.append(cid if isinstance(cid, str) else str(cid))
    if not ids and isinstance(body.get("output"), str):
        ids = [part.split(".")[0] for part in body["output"].strip(".").split("...")]
    return ids


def _guard_callback(guards: dict[str, Role | None]) -> Response | None:
    if g.session is not None and not _csrf_ok(g.session["csrf"]):
        abort(403)
    body = request.get_json(silent=True) or {}
    for cid in _outputs(body):
        for prefix, lowest in guards.items():
            if cid.startswith(prefix) and lowest is not None and not allowed(lowest):
                abort(403)
    return None


ORDER = [Role.ANONYMOUS, Role.PUBLIC, Role.IP_AUTHORITY, Role.DEPARTMENT, Role.ADMIN]


def allowed(lowest: Role) -> bool:
    """Staff roles are ordered for page access; the industrial-parks authority is below the department."""
    return ORDER.index(current_role()) >= ORDER.index(lowest)


def _guard_page() -> Response | None:
    import dash

    for page in dash.page_registry.values():
        lowest = page.get("lowest_role")
        if lowest and request.method == "GET" and request.path.rstrip("/") == page["path"].rstrip("/") \
                and page["path"] != "/" and not allowed(lowest):
            if current_user() is None:
                return redirect(f"/login?next={request.full_path.rstrip('?')}")
            abort(403)
    return None
