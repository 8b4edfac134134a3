"""The web console: server-rendered pages (Jinja2) with HTMX for in-place actions.

`install(app)` adds the console to the HTTP application: its routes under /console,
its static files (HTMX and the stylesheet, vendored: no CDN at run time) and the HTML
answers for its errors. Branding and session settings are read from the environment
once, here, when the app is built (see `web.ConsoleConfig`)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from crossdock.api.console import auth, catalog, desk, pages, prices
from crossdock.api.console.web import HERE, ConsoleConfig, ConsoleError, console_error


def install(app: FastAPI, config: ConsoleConfig | None = None) -> None:
    app.state.console = config or ConsoleConfig.from_env()
    app.include_router(auth.router)
    app.include_router(desk.router)
    app.include_router(pages.router)
    app.include_router(prices.router)  # price approvals
    app.include_router(catalog.router)  # listings per channel connection
    app.add_api_route("/console", _to_console, methods=["GET"], include_in_schema=False)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.add_exception_handler(ConsoleError, console_error)


async def _to_console() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=307)


__all__ = ["ConsoleConfig", "install"]
