"""What every console page shares: the partner's brand, templates, the signed-in viewer,
CSRF and role checks, and the HTML errors (sign-in needed, 403, 404).

Dependencies are `Annotated` aliases (`Viewing`, `Operating`); a route that changes
anything takes `Operating`, which insists on a valid CSRF token and the OPERATE right.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from crossdock.access import ALL_TENANTS, Action, Principal
from crossdock.store import users as accounts

HERE = Path(__file__).parent
COOKIE = "crossdock_session"
CSRF_HEADER = "X-CSRF-Token"
_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' https: data:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Branding:
    """The partner's brand: every page shows it; Crossdock's own name only as the default."""

    name: str = "Crossdock"
    logo_url: str = ""
    color: str = "#1f4e79"
    accent: str = "#e07a1f"
    support: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Branding:
        env = dict(os.environ if env is None else env)
        logo = env.get("CROSSDOCK_PARTNER_LOGO_URL", "").strip()
        return cls(
            name=env.get("CROSSDOCK_PARTNER_NAME", "").strip() or cls.name,
            logo_url=logo if logo.startswith(("https://", "http://", "/")) else "",
            color=_colour(env.get("CROSSDOCK_PARTNER_COLOR"), cls.color),
            accent=_colour(env.get("CROSSDOCK_PARTNER_ACCENT"), cls.accent),
            support=env.get("CROSSDOCK_PARTNER_SUPPORT", "").strip(),
        )


def _colour(value: str | None, default: str) -> str:
    return value.strip() if value and _COLOUR.match(value.strip()) else default


@dataclass(frozen=True)
class ConsoleConfig:
    brand: Branding
    session_seconds: float
    secure_cookie: bool  # set when TLS ends in front of the app (the request itself says http)
    templates: Environment

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ConsoleConfig:
        env = dict(os.environ if env is None else env)
        return cls(
            brand=Branding.from_env(env),
            session_seconds=float(env.get("CROSSDOCK_CONSOLE_SESSION_HOURS", 12)) * 3600,
            secure_cookie=env.get("CROSSDOCK_CONSOLE_SECURE_COOKIE", "") in ("1", "true", "yes"),
            templates=_environment(),
        )


# --------------------------------------------------------------------------- errors


class ConsoleError(Exception):
    status = 500
    title = "Something went wrong"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ConsoleError):
    status, title = 404, "Not found"

    def __init__(self, detail: str = "There is nothing here, or nothing you may see.") -> None:
        super().__init__(detail)


class Forbidden(ConsoleError):
    status, title = 403, "Not allowed"


class SignInNeeded(ConsoleError):
    status, title = 401, "Please sign in"


async def console_error(request: Request, exc: ConsoleError) -> HTMLResponse | RedirectResponse:
    if isinstance(exc, SignInNeeded):
        if request.headers.get("HX-Request"):
            return HTMLResponse("", status_code=401, headers={"HX-Redirect": "/console/login"})
        return RedirectResponse("/console/login", status_code=303)
    viewer = getattr(request.state, "viewer", None)
    return render(request, "error.html", code=exc.status, viewer=viewer, error=exc)


# --------------------------------------------------------------------------- the viewer


@dataclass(frozen=True)
class Viewer:
    user: accounts.User
    token: str

    @property
    def principal(self) -> Principal:
        return self.user.principal

    @property
    def csrf(self) -> str:
        return accounts.csrf_token(self.token)

    @property
    def may_operate(self) -> bool:
        return self.principal.may(Action.OPERATE)

    def scope(self, tenant: str | None = None) -> tuple[str, ...]:
        """Tenant ids a query may touch: `tenant` if visible (else 404), or all the viewer's.
        `()` (no restriction) only for a partner who sees every tenant."""
        who = self.principal
        if tenant:
            if not who.sees(tenant):
                raise NotFound()
            return (tenant,)
        if who.is_partner and ALL_TENANTS in who.tenants:
            return ()
        mine = tuple(sorted(who.tenants - {ALL_TENANTS}))
        if not mine:
            raise Forbidden("this account sees no tenant")
        return mine

    def check(self, tenant_id: str) -> None:
        if not self.principal.sees(tenant_id):
            raise NotFound()


def hub_of(request: Request) -> Any:
    return request.app.state.hub


def config_of(request: Request) -> ConsoleConfig:
    return request.app.state.console


async def _viewer(request: Request) -> Viewer:
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignInNeeded()
    hub = hub_of(request)
    user = await hub.database.read(accounts.session_user, token, hub.clock())
    if user is None:
        raise SignInNeeded()
    viewer = Viewer(user, token)
    request.state.viewer = viewer
    return viewer


async def _operator(request: Request, viewer: Annotated[Viewer, Depends(_viewer)]) -> Viewer:
    """An action: the viewer may act, and the request carries this session's CSRF token."""
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and "form" in request.headers.get("content-type", ""):
        presented = (await request.form()).get("csrf_token")
    if not accounts.csrf_ok(viewer.token, presented if isinstance(presented, str) else None):
        raise Forbidden("the form is out of date or was not sent by this console; reload the page")
    if not viewer.may_operate:
        raise Forbidden("your role lets you look, not act")
    return viewer


Viewing = Annotated[Viewer, Depends(_viewer)]
Operating = Annotated[Viewer, Depends(_operator)]


# --------------------------------------------------------------------------- rendering


def render(request: Request, name: str, code: int = 200, **context: Any) -> HTMLResponse:
    config = config_of(request)
    hub = hub_of(request)
    context.setdefault("viewer", getattr(request.state, "viewer", None))
    html = config.templates.get_template(name).render(
        brand=config.brand, request=request, now=hub.clock(), path=request.url.path, **context
    )
    return HTMLResponse(html, status_code=code, headers=_SECURITY_HEADERS)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=_SECURITY_HEADERS)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, ago=ago, minutes=minutes, pretty=pretty, sparkline=sparkline, bar=bar)
    return env


def when(ts: float | None) -> str:
    return "" if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def minutes(value: float | None) -> str:
    """A duration in minutes, read by a person: 45 s, 12 min, 3 h 20 min, 2 d 4 h."""
    if value is None:
        return ""
    seconds = max(0, int(value * 60))
    if seconds < 60:
        return f"{seconds} s"
    m = seconds // 60
    if m < 60:
        return f"{m} min"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(h, 24)
    return f"{d} d {h} h" if h else f"{d} d"


def ago(ts: float | None, now: float) -> str:
    return "" if ts is None else minutes((now - ts) / 60)


def pretty(value: Any) -> str:
    """JSON text or a value, indented for reading; other text as it is."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str).decode()


def sparkline(values: list[int], width: int = 160, height: int = 28) -> Markup:
    """An inline SVG line of `values` (oldest first), with its peak labelled for screen readers."""
    if not values:
        return Markup("")
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values)
    )
    return Markup(
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
        f"<title>peak {int(top)} per minute</title>"
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{points}"/></svg>'
    )


def bar(value: int, top: int, width: int = 160, height: int = 12) -> Markup:
    filled = 0 if not top else max(2.0, width * value / top)
    return Markup(
        f'<svg class="bar" width="{width}" height="{height}" viewBox="0 0 {width} {height}" aria-hidden="true">'
        f'<rect width="{width}" height="{height}" rx="2" class="bar-bg"/>'
        f'<rect width="{filled:.1f}" height="{height}" rx="2" class="bar-fg"/></svg>'
    )
