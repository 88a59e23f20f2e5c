"""The staff navigation bar: pages, who is logged in (with role), logout (a CSRF-protected POST form)."""
from __future__ import annotations

from dash import dcc, html

from dashboards.i18n import t
from geo.access import ROLE_TITLES, Role
from geo.users import User


def navbar(lang: str, user: User | None, csrf: str | None, here: str) -> html.Nav:
    """Links for the pages; logout is a form because it changes state (never a GET link)."""
    links = [("/", "nav.public"), ("/department", "nav.department"), ("/eip", "nav.parks")]
    items: list = [html.A(t(key, lang), href=href, className="nav-link" + (" current" if href == here else ""))
                   for href, key in links]
    if user is None:
        items.append(html.A(t("nav.login", lang), href=f"/login?next={here}", className="nav-link"))
        return html.Nav(items, className="staff-nav")
    vi, en = ROLE_TITLES[Role(user.role)]
    items.append(html.Span(f"{user.display_name or user.username} · {vi if lang == 'vi' else en}",
                           className="nav-user", id="nav-user"))
    items.append(html.Form([
        dcc.Input(type="hidden", name="csrf_token", value=csrf or ""),
        html.Button(t("nav.logout", lang), type="submit", className="nav-logout"),
    ], method="POST", action="/logout", className="nav-logout-form"))
    return html.Nav(items, className="staff-nav")
