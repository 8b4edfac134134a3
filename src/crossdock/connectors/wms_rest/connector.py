"""`RestWarehouse`: the Warehouse capability over the generic REST WMS contract.

The release reference is the WMS's idempotency key: a repeated `POST /releases` is refused
with 409 `duplicate_release` and the existing release, which the hub reads as "the first
call got through". Cancelling works until the first shipment (409 `already_shipped` after).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from crossdock.connectors.capabilities import ReleaseRequest
from crossdock.connectors.registry import ConnectorContext, ConnectorKind
from crossdock.connectors.wms_rest import codec
from crossdock.connectors.wms_rest.client import RestClient, refusal, wms_client
from crossdock.connectors.wms_rest.config import WmsRestConfig
from crossdock.connectors.wms_rest.inbound import WmsEventVerifier


class RestWarehouse:
    def __init__(self, config: WmsRestConfig, client: RestClient) -> None:
        self.config, self.client = config, client

    async def find_release(self, release_reference: str) -> str | None:
        answer = await self.client.get(f"/releases/{_segment(release_reference)}", expect=(404,))
        return None if answer.status == 404 else codec.release_reference(answer.body)

    async def release(self, release: ReleaseRequest) -> str:
        answer = await self.client.post("/releases", codec.release_body(release), expect=(409,))
        if answer.status == 409:
            if answer.error_code != "duplicate_release":
                raise refusal("wms POST /releases", True, answer)
            return codec.existing_release_reference(answer.body)
        return codec.release_reference(answer.body)

    async def cancel_release(self, release_reference: str) -> bool:
        """True when cancelled (or never received, so nothing will ship); False once shipped."""
        answer = await self.client.post(
            f"/releases/{_segment(release_reference)}/cancel", {}, expect=(404, 409)
        )
        if answer.status == 409:
            if answer.error_code == "already_shipped":
                return False
            raise refusal("wms POST /releases/{ref}/cancel", True, answer)
        return True


def _segment(value: str) -> str:
    return quote(value, safe="")


def build(config: Any, ctx: ConnectorContext) -> RestWarehouse:
    """The connector for one handler call; `config` is the connection's opened config."""
    opened = config if isinstance(config, WmsRestConfig) else WmsRestConfig.model_validate(config)
    return RestWarehouse(opened, wms_client(opened, ctx))


KIND = ConnectorKind("wms-rest", build=build, inbound=WmsEventVerifier())
