"""The HTTP application: webhook intake, health, readiness and metrics.

`create_app(hub, run_workers=True)` also runs the hub's workers in the server's own
event loop for the app's lifetime: started with the app, drained when it stops
(uvicorn stops on SIGTERM: no new requests, in-flight ones finish, then workers drain).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from crossdock.api import console, hooks, v1
from crossdock.api.metrics import Metrics

log = logging.getLogger("crossdock.api")

CRASH_POINT_ENV = "CROSSDOCK_CRASH_POINT"
READY_TIMEOUT = 2.0


def create_app(hub: Any, *, run_workers: bool, workers: int = 1) -> FastAPI:
    crash = os.environ.get(CRASH_POINT_ENV) == "hooks.after_commit"

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        count = workers if run_workers else 0
        tasks = [
            asyncio.create_task(hub.worker().run(stop), name=f"crossdock-worker-{i}") for i in range(count)
        ]
        if count:
            tasks.append(asyncio.create_task(hub.run_scheduler(stop), name="crossdock-scheduler"))
        try:
            yield
        finally:
            stop.set()
            for result in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(result, BaseException):
                    log.error("a worker stopped with an error", exc_info=result)

    app = FastAPI(title="Crossdock", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.hub = hub
    app.state.hooks = hooks.HookIntake(hub, hub.services, crash_after_commit=crash)
    app.state.readiness = Readiness(hub)
    app.state.metrics = Metrics(hub)
    app.router.routes.extend(hooks.routes)
    console.install(app)  # the web console: /console pages, static files, HTML errors
    app.include_router(v1.router)
    app.add_api_route("/healthz", healthz, methods=["GET"])
    app.add_api_route("/readyz", readyz, methods=["GET"])
    app.add_api_route("/metrics", metrics, methods=["GET"])
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(v1.ApiError, v1.api_error)
    app.add_exception_handler(OverflowError, _unstorable_value)
    app.add_exception_handler(DataError, _unstorable_value)
    app.add_exception_handler(UnicodeEncodeError, _unstorable_value)
    return app


async def healthz() -> dict[str, str]:
    """The process is alive and its event loop answers."""
    return {"status": "ok"}


async def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the revision this code expects."""
    problem = await request.app.state.readiness.problem()
    if problem:
        return JSONResponse({"status": "unavailable", "problem": problem}, status_code=503)
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    body, content_type = await request.app.state.metrics.page()
    return Response(body, media_type=content_type)


class Readiness:
    def __init__(self, hub: Any) -> None:
        self._hub = hub
        self._heads: set[str] | None = None

    async def problem(self) -> str | None:
        try:
            heads = self._heads or await asyncio.to_thread(self._expected_heads)
            self._heads = heads
            current = await asyncio.wait_for(self._hub.database.read(_revisions), READY_TIMEOUT)
        except TimeoutError:
            return "the database did not answer in time"
        except Exception as exc:
            return f"the database cannot be reached: {type(exc).__name__}"
        if current != heads:
            return f"the schema is at {sorted(current) or 'nothing'}, expected {sorted(heads)}: run `crossdock db upgrade`"
        return None

    def _expected_heads(self) -> set[str]:
        from alembic.script import ScriptDirectory

        from crossdock.store.migrate import alembic_config

        return set(ScriptDirectory.from_config(alembic_config(self._hub.settings.database_url)).get_heads())


def _revisions(conn: Any) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    return set(MigrationContext.configure(conn).get_current_heads())


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    error = {"code": code, "message": str(exc.detail), "hint": ""}
    return JSONResponse({"error": error}, status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    named = "; ".join(
        f"{'.'.join(str(part) for part in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()[:10]
    )
    error = {
        "code": "request.invalid",
        "message": f"the request does not match this endpoint: {named}" if named else "the request does not match this endpoint",
        "hint": "Correct the fields named, then send the request again.",
    }
    return JSONResponse({"error": error}, status_code=422)


async def _unstorable_value(request: Request, exc: Exception) -> JSONResponse:
    """A value no database column can hold or be compared with: an integer beyond 64 bits
    (SQLite raises OverflowError, PostgreSQL `bigint out of range`), a text with NUL or longer
    than its column (PostgreSQL takes neither) or a lone surrogate (no UTF-8). Input, not a fault of the hub:
    answered 400, not 500."""
    log.info("refused a request with an unstorable value: %s", str(exc).splitlines()[0][:200])
    if isinstance(exc, DataError):  # the database's own reason (a text too long, a NUL, a range)
        why = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
    elif isinstance(exc, OverflowError):
        why = "an integer beyond 64 bits"
    else:
        why = "a text that is not valid Unicode"
    error = {
        "code": "request.unstorable_value",
        "message": f"the request holds a value the database cannot hold: {why}",
        "hint": "Send ids and numbers as Crossdock issued them, texts within their field's length "
        "and without NUL characters.",
    }
    return JSONResponse({"error": error}, status_code=400)
