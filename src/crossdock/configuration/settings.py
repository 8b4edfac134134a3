"""A tenant's `settings`: the sections Crossdock reads are checked here, at apply.

`settings` is otherwise the tenant's own (a partner may keep notes or credentials there;
secrets in it are sealed like a connection's). The sections the flows read are strict:
`orders` (which connections play ERP and WMS, the short-pick policy, who runs the
warehouse) and `sla` (deadlines per channel for the console's clocks). A value they could
not use — a deadline of "soon", a watch interval of 0 — used to be stored and then failed
in the flow or the console on every read; it is now refused with its path.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Name = Annotated[str, Field(min_length=1, max_length=64)]
Minutes = Annotated[float, Field(gt=0, le=366 * 24 * 60)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrderSettingsSection(_Strict):
    """`settings.orders`."""

    erp: Name | None = None
    wms: Name | None = None
    warehouses: dict[Name, Name] = Field(default_factory=dict)  # warehouse code → WMS connection
    short_pick: Literal["backorder", "cancel"] = "backorder"
    channels: dict[Name, Name] = Field(default_factory=dict)  # channel → connection id
    fulfilment: Literal["wms", "erp"] = "wms"
    erp_watch_seconds: float = Field(30.0, ge=1, le=86_400)


class ChannelSlaSection(_Strict):
    """`settings.sla.<channel>`: deadlines in minutes from arrival; null: no clock."""

    ack_minutes: Minutes | None = None
    post_minutes: Minutes | None = None
    confirm_minutes: Minutes | None = None


class KnownSettings(BaseModel):
    """The sections of `settings` Crossdock reads; any other key is the tenant's own."""

    model_config = ConfigDict(extra="allow")

    orders: OrderSettingsSection | None = None
    sla: dict[Name, ChannelSlaSection] | None = None


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """`settings` unchanged when its known sections are valid; pydantic's ValidationError
    (with each problem's path) otherwise."""
    KnownSettings.model_validate(settings)
    return settings
