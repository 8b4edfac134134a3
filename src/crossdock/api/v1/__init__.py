"""The REST API, `/api/v1`: tenants, connections, orders with their timeline, messages,
the exception desk, mappings, availability, prices and approvals, and a metrics summary, for API keys (`crossdock apikeys`).

Its own OpenAPI document is at `/api/v1/openapi.json`, with Swagger UI at `/api/v1/docs`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse

from crossdock.api.v1 import (
    availability,
    catalog,
    drift,
    exceptions,
    mappings,
    messages,
    metrics,
    orders,
    prices,
    tenants,
)
from crossdock.api.v1.errors import ApiError, api_error

PREFIX = "/api/v1"
TITLE = "Crossdock API"

router = APIRouter(prefix=PREFIX)
for _module in (tenants, mappings, orders, messages, exceptions, metrics, availability, drift, catalog, prices):
    router.include_router(_module.router)


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request) -> JSONResponse:
    schema = getattr(request.app.state, "api_v1_openapi", None)
    if schema is None:
        schema = get_openapi(
            title=TITLE,
            version="1",
            description="Authenticate with `Authorization: Bearer <key>`. Errors answer "
            '`{"error": {"code", "message", "hint"}}`; objects of tenants a key cannot see answer 404.',
            routes=router.routes,
        )
        request.app.state.api_v1_openapi = schema
    return JSONResponse(schema)


@router.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=f"{PREFIX}/openapi.json", title=TITLE)


__all__ = ["ApiError", "api_error", "router"]
