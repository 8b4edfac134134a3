"""Signing in and out of the console.

The session cookie is HttpOnly, SameSite=Lax, scoped to /console and Secure over
HTTPS (or when `CROSSDOCK_CONSOLE_SECURE_COOKIE=1` says TLS ends in front of us).
The sign-in form carries its own double-submit token, so another site cannot sign a
browser into an account of its choosing. Every attempt is audited.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crossdock.api.console.web import COOKIE, Forbidden, Viewing, config_of, hub_of, redirect, render
from crossdock.store import users as accounts

router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "crossdock_login"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or config_of(request).secure_cookie


@router.get("/console/login")
async def login_page(request: Request) -> HTMLResponse:
    return _login_form(request)


def _login_form(request: Request, error: str = "", username: str = "", status: int = 200) -> HTMLResponse:
    nonce = secrets.token_urlsafe(24)
    response = render(
        request, "login.html", code=status, viewer=None, nonce=nonce, error=error, username=username
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=3600,
        path="/console",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return response


@router.post("/console/login")
async def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    nonce: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, nonce):
        return _login_form(request, "The sign-in form expired; please try again.", username, 400)
    hub = hub_of(request)
    username = username.strip()[:200]
    user = await hub.database.read(accounts.get_user, username) if username else None
    ok = await asyncio.to_thread(accounts.check_password, user, password)
    remote = request.client.host if request.client else ""
    await hub.database.write(accounts.record_login, username, user, ok, remote, hub.clock())
    if not ok or user is None:
        return _login_form(request, "Wrong username or password.", username, 401)
    config = config_of(request)
    token = await hub.database.write(accounts.open_session, user.id, hub.clock(), config.session_seconds)
    response = redirect("/console/")
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(config.session_seconds),
        path="/console",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    response.delete_cookie(LOGIN_COOKIE, path="/console")
    return response


@router.post("/console/logout")
async def logout(
    request: Request, viewer: Viewing, csrf_token: Annotated[str, Form()] = ""
) -> RedirectResponse:
    """Needs the session's CSRF token (any role may sign out), so no other site can sign you out."""
    if not accounts.csrf_ok(viewer.token, csrf_token):
        raise Forbidden("the form is out of date; reload the page")
    hub = hub_of(request)
    await hub.database.write(accounts.close_session, viewer.token)
    response = redirect("/console/login")
    response.delete_cookie(COOKIE, path="/console")
    return response
