"""Errors of the REST API, answered as `{"error": {"code", "message", "hint"}}` like every
other Crossdock endpoint."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, hint: str = "", headers: dict | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.hint, self.headers = status, code, message, hint, headers


def not_found(what: str, ident: object) -> ApiError:
    """Unknown, or of a tenant the caller cannot see: the same answer, so existence never leaks."""
    return ApiError(404, f"{what}.not_found", f"no {what} {ident!s}")


def unauthorized(code: str, message: str) -> ApiError:
    hint = "Send `Authorization: Bearer <key>` with a live key (`crossdock apikeys create`)."
    return ApiError(401, code, message, hint, headers={"WWW-Authenticate": "Bearer"})


async def api_error(request: Request, exc: ApiError) -> JSONResponse:
    error = {"code": exc.code, "message": exc.message, "hint": exc.hint}
    return JSONResponse({"error": error}, status_code=exc.status, headers=exc.headers)
