"""`crossdock sandbox` with a bench-only request log: `python -m bench.sandbox_launcher sandbox ...`.

The sandbox counts calls per route but keeps no times. For `python -m bench orders` this
launcher records every ERP call as `[time, "METHOD route", status, arrived]` (`time` taken
when the answer is ready, in the sandbox's fault middleware; `arrived` when the request
reached the sandbox, before any of its handling) and adds two control routes:

    GET /_bench/erp_calls?since=N   the log from entry N on: {"calls": [...], "next": M}
    GET /_bench/counts              sales orders, invoices, Shopify orders and fulfillments,
                                    Shopify's GraphQL cost bucket

`CROSSDOCK_BENCH_WEBHOOK_CONCURRENCY` sets how many webhooks the sandbox delivers at once
(default 4, the sandbox's own). Nothing else about the sandbox changes."""

from __future__ import annotations

import contextvars
import dataclasses
import os
import time
from typing import Any

from aiohttp import web

from crossdock.sandbox import app as sandbox_app
from crossdock.sandbox import state

ERP_CALLS: list[tuple[float, str, int]] = []
_record = state.CallStats.record
_create = sandbox_app.create_sandbox_app


ARRIVED: contextvars.ContextVar[float] = contextvars.ContextVar("arrived", default=0.0)


def _logged_record(self: state.CallStats, system: str, route: str, status: int) -> None:
    if system == "erp":
        ERP_CALLS.append((time.time(), route, status, ARRIVED.get()))
    _record(self, system, route, status)


@web.middleware
async def _arrival(request: web.Request, handler: Any) -> web.StreamResponse:
    ARRIVED.set(time.time())  # before anything of the sandbox runs: when a rate limiter would count it
    return await handler(request)


def _create_with_log(config: state.SandboxConfig, **kwargs: Any) -> web.Application:
    concurrency = int(os.environ.get("CROSSDOCK_BENCH_WEBHOOK_CONCURRENCY") or 0)
    if concurrency:
        config = dataclasses.replace(config, webhook_concurrency=concurrency)
    app = _create(config, **kwargs)
    app.middlewares.insert(0, _arrival)
    sandbox = app[sandbox_app.SANDBOX]

    async def erp_calls(request: web.Request) -> web.Response:
        since = int(request.query.get("since", 0))
        return web.json_response({"calls": ERP_CALLS[since:], "next": len(ERP_CALLS)})

    async def counts(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "sales_orders": len(sandbox.erp.sales_orders),
                "invoices": len(sandbox.erp.invoices),
                "shopify_orders": len(sandbox.shopify.orders),
                "fulfillments": len(sandbox.shopify.fulfillments),
                "shopify_graphql": sandbox.shopify.bucket.snapshot(),
            }
        )

    app.router.add_get("/_bench/erp_calls", erp_calls)
    app.router.add_get("/_bench/counts", counts)
    return app


if __name__ == "__main__":
    state.CallStats.record = _logged_record  # type: ignore[method-assign]
    sandbox_app.create_sandbox_app = _create_with_log
    from crossdock.cli import app

    app(prog_name="crossdock")
