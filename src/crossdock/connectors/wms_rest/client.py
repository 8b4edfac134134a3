"""Transport to the generic REST WMS: the generic REST ERP's transport (same conventions:
bearer key, JSON, `{"error": {code, message}}`, 429/503 with Retry-After), built from a
WMS connection's config."""

from __future__ import annotations

from crossdock.connectors.erp_rest.client import Answer, RestClient, refusal
from crossdock.connectors.registry import ConnectorContext
from crossdock.connectors.wms_rest.config import WmsRestConfig

__all__ = ["Answer", "RestClient", "refusal", "wms_client"]


def wms_client(config: WmsRestConfig, ctx: ConnectorContext) -> RestClient:
    return RestClient(
        ctx.session,
        base_url=config.base_url,
        api_key=config.api_key,
        timeout_seconds=config.timeout_seconds,
        connection_id=ctx.connection_id,
        record=ctx.record,
        system="wms",
        permit=ctx.permit,
    )
