"""How one channel connection's quantities are published: the `publishing:` entry of a
channel in the tenant's `availability:` section (every field has a default).

    availability:
      channels:
        shopify-main:
          publishing:
            quiet_seconds: 1            # in a burst, a value unchanged this long may fill a batch
            linger_seconds: 30          # no value waits longer than this, burst or not
                                        # (default 30; 300 for feed channels, Amazon and Walmart,
                                        # whose few feeds an hour must not go half empty)
            recheck_seconds: 0.5        # a waiting flush looks again after this
            batch_size: 250             # at most the channel's own maximum (Shopify 250)
            check_after_seconds: 60     # feed channels: first look at a submitted feed
            check_every_seconds: 30     # then every so often until it is processed
            reconcile_every_seconds: 21600   # compare the channel with Crossdock (0: never)
            reconcile_page: 100         # items read from the channel per reconciliation step
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PublishingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quiet_seconds: float = Field(1.0, ge=0, le=3600)
    linger_seconds: float | None = Field(None, ge=0, le=86_400)
    recheck_seconds: float = Field(0.5, gt=0, le=600)
    batch_size: int | None = Field(None, ge=1, le=100_000)
    check_after_seconds: float = Field(60.0, ge=0, le=86_400)
    check_every_seconds: float = Field(30.0, gt=0, le=86_400)
    reconcile_every_seconds: float = Field(21_600.0, ge=0, le=30 * 86_400)
    reconcile_page: int = Field(100, ge=1, le=1_000)


DEFAULT_LINGER_SECONDS = 30.0
FEED_LINGER_SECONDS = {"amazon": 300.0, "walmart": 600.0}  # by channel: their feeds are few per hour


def linger_for(settings: PublishingSettings, channel: str) -> float:
    """The channel's linger: as configured, else its channel's default."""
    if settings.linger_seconds is not None:
        return settings.linger_seconds
    return FEED_LINGER_SECONDS.get(channel, DEFAULT_LINGER_SECONDS)
