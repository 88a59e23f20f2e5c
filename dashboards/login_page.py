"""The login and logout routes: a plain HTML form (works without JavaScript), CSRF-protected, throttled."""
from __future__ import annotations

import hmac
import secrets
from html import escape

from flask import Blueprint, Response, g, make_response, redirect, request

from dashboards import auth
from dashboards.context import AppContext
from dashboards.i18n import lang_or_default, t
from geo.users import authenticate

_PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<link rel="stylesheet" href="/assets/style.css"></head><body class="login-body">
<main class="login"><h1>{title}</h1>{message}
<form method="post" action="/login?lang={lang}">
<input type="hidden" name="csrf_token" value="{csrf}"><input type="hidden" name="next" value="{next}">
<label for="username">{user_label}</label><input id="username" name="username" autocomplete="username" required>
<label for="password">{pass_label}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="login-submit">{submit}</button></form>
<p><a href="/login?lang={other}&next={next_q}">{switch}</a> · <a href="/">{home}</a></p></main></body></html>"""


def _form(lang: str, next_path: str, message: str = "", status: int = 200) -> Response:
    csrf = secrets.token_urlsafe(32)
    html = _PAGE.format(lang=lang, title=escape(t("login.title", lang)), csrf=csrf, next=escape(next_path),
                        next_q=escape(next_path), user_label=escape(t("login.username", lang)),
                        pass_label=escape(t("login.password", lang)), submit=escape(t("login.submit", lang)),
                        other="en" if lang == "vi" else "vi", switch=escape(t("lang.switch", lang)),
                        home=escape(t("login.home", lang)),
                        message=f'<p class="login-error" role="alert">{escape(message)}</p>' if message else "")
    resp = make_response(html, status)
    resp.headers["Cache-Control"] = "no-store"
    resp.set_cookie(auth.LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="Strict", max_age=3600,
                    secure=request.is_secure)
    return resp


def blueprint(actx: AppContext) -> Blueprint:
    bp = Blueprint("login", __name__)

    @bp.get("/login")
    def login_form() -> Response:
        lang = lang_or_default(request.args.get("lang"))
        return _form(lang, auth._safe_next(request.args.get("next")))

    @bp.post("/login")
    def login_submit() -> Response:
        lang = lang_or_default(request.args.get("lang"))
        next_path = auth._safe_next(request.form.get("next"))
        sent, expected = request.form.get("csrf_token", ""), request.cookies.get(auth.LOGIN_CSRF_COOKIE, "")
        if not expected or not hmac.compare_digest(sent, expected):
            return _form(lang, next_path, t("login.csrf", lang), 403)
        user = authenticate(actx.engine, request.form.get("username", "")[:64], request.form.get("password", ""),
                            request.remote_addr or "")
        if user is None:
            return _form(lang, next_path, t("login.failed", lang), 401)
        resp = redirect(next_path)
        auth.start_session(actx, user, resp)
        resp.delete_cookie(auth.LOGIN_CSRF_COOKIE)
        return resp

    @bp.post("/logout")
    def logout() -> Response:
        if g.session is not None and not auth._csrf_ok(g.session["csrf"]):
            return Response("CSRF", status=403)
        resp = redirect("/")
        auth.end_session(actx, resp)
        return resp

    return bp
