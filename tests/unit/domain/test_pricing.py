"""Channel pricing: each rule alone and combined, effective-dated entries, approval decisions.
Table-driven; every row also checks that the explanation adds up to the price."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from crossdock.domain.errors import DomainError
from crossdock.domain.price_approval import PriceState, Verdict, change_percent, decide, needs_approval
from crossdock.domain.pricing import (
    BasePrice,
    ChannelPrice,
    ChannelPriceRule,
    Direction,
    PriceEntry,
    Rounding,
    StepName,
    active_entry,
    compute,
)

ITEM = "CAM-BODY"
T0 = 1_800_000_000.0
DAY = 86_400.0
BASE = BasePrice(ITEM, D("100.00"), "USD", cost=D("70.00"))


def rule(**kw) -> ChannelPriceRule:
    kw.setdefault("connection_id", "shop")
    kw.setdefault("currency", "USD")
    return ChannelPriceRule(**kw)


def adds_up(price: ChannelPrice) -> None:
    running = D(0)
    for step in price.explanation:
        running += step.value
        assert running == step.total, step
    assert running == price.price


CASES = [
    # id, rule settings, base, expected price, steps that must appear
    ("plain: the base price to cents", {}, BASE, D("100.00"), [StepName.BASE, StepName.ROUNDING]),
    ("markup 12.5%", {"markup_percent": D("12.5")}, BASE, D("112.50"), [StepName.MARKUP]),
    ("markup rounds half up", {"markup_percent": D("0.005")}, BASE, D("100.01"), [StepName.MARKUP]),
    ("ends in .99, up", {"markup_percent": D(20), "rounding": Rounding(D("0.99"))}, BASE, D("120.99"), []),
    (
        "ends in .99, down",
        {"markup_percent": D(20), "rounding": Rounding(D("0.99"), Direction.DOWN)},
        BASE,
        D("119.99"),
        [],
    ),
    (
        "ends in .99, nearest",
        {"markup_percent": D("20.3"), "rounding": Rounding(D("0.99"), Direction.NEAREST)},
        BASE,
        D("119.99"),
        [],
    ),
    ("ends in 9.99", {"markup_percent": D(20), "rounding": Rounding(D("9.99"))}, BASE, D("129.99"), []),
    (
        "already ends in .99",
        {"rounding": Rounding(D("0.99"))},
        BasePrice(ITEM, D("19.99"), "USD"),
        D("19.99"),
        [],
    ),
    ("whole units", {"rounding": Rounding(D("0.00"))}, BasePrice(ITEM, D("19.20"), "USD"), D("20.00"), []),
    ("MAP lifts the price", {"map_prices": {ITEM: D("149.00")}}, BASE, D("149.00"), [StepName.MAP]),
    (
        "MAP below the price changes nothing",
        {"map_prices": {ITEM: D("50")}},
        BASE,
        D("100.00"),
        [StepName.MAP],
    ),
    ("MAP of another item", {"map_prices": {"OTHER": D("500")}}, BASE, D("100.00"), []),
    ("margin floor: 70 + 50% = 105", {"min_margin_percent": D(50)}, BASE, D("105.00"), [StepName.MARGIN]),
    ("margin floor rounds up to cents", {"min_margin_percent": D("33.333")}, BASE, D("100.00"), []),
    ("margin floor met", {"min_margin_percent": D(10)}, BASE, D("100.00"), [StepName.MARGIN]),
    (
        "margin without a cost is not checked",
        {"min_margin_percent": D(90)},
        BasePrice(ITEM, D(100), "USD"),
        D("100.00"),
        [StepName.MARGIN],
    ),
    (
        "a floor then the ending again (up)",
        {"rounding": Rounding(D("0.99"), Direction.DOWN), "map_prices": {ITEM: D("101.50")}},
        BASE,
        D("101.99"),
        [StepName.MAP, StepName.FLOOR_ROUNDING],
    ),
    (
        "the higher floor wins",
        {"map_prices": {ITEM: D("104")}, "min_margin_percent": D(50)},
        BASE,
        D("105.00"),
        [StepName.MAP, StepName.MARGIN],
    ),
    (
        "another currency: rate, then markup and ending",
        {
            "currency": "EUR",
            "base_currency": "USD",
            "exchange_rate": D("0.92"),
            "markup_percent": D(10),
            "rounding": Rounding(D("0.99")),
        },
        BASE,
        D("101.99"),  # 100 × 0.92 × 1.1 = 101.20 → 101.99
        [StepName.CURRENCY],
    ),  # fmt: skip
    (
        "margin floor in the channel's currency",
        {"currency": "EUR", "base_currency": "USD", "exchange_rate": D("0.5"), "min_margin_percent": D(50)},
        BASE,
        D("52.50"),  # 70 × 0.5 × 1.5
        [StepName.CURRENCY, StepName.MARGIN],
    ),
    (
        "yen has no minor units",
        {"currency": "JPY", "base_currency": "JPY"},
        BasePrice(ITEM, D("1234.5"), "JPY"),
        D(1235),
        [],
    ),
]


@pytest.mark.parametrize(
    ("settings", "base", "expected", "steps"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_channel_price(settings, base, expected, steps):
    price = compute(ITEM, base, [], rule(**settings), T0)
    assert price.price == expected
    assert str(price.price) == str(expected)  # exactly the currency's places
    names = [s.name for s in price.explanation]
    assert all(s in names for s in steps), names
    adds_up(price)
    assert ChannelPrice.from_plain(price.to_plain()) == price


def entry(
    ref: str, price: str, start: float, end: float | None = None, channel: str | None = None, item: str = ITEM
) -> PriceEntry:
    return PriceEntry(ref, item, D(price), start, end, channel)


ENTRIES = [
    entry("sale", "80", T0, T0 + 7 * DAY),
    entry("shop-flash", "60", T0 + DAY, T0 + 2 * DAY, "shop"),
    entry("amz-flash", "50", T0 + DAY, T0 + 2 * DAY, "amz"),
    entry("later", "75", T0 + 3 * DAY, T0 + 4 * DAY),
    entry("other-item", "1", T0 - DAY, item="OTHER"),
]

ENTRY_CASES = [
    # id, instant, channel, expected entry in force
    ("before any entry", T0 - 1, "shop", None),
    ("at the start: in force", T0, "shop", "sale"),
    ("a channel's own entry wins", T0 + DAY, "shop", "shop-flash"),
    ("each channel its own", T0 + DAY, "amz", "amz-flash"),
    ("a channel without its own entry", T0 + DAY, "walmart", "sale"),
    ("at the end: no longer in force", T0 + 2 * DAY, "shop", "sale"),
    ("the later start wins", T0 + 3 * DAY, "shop", "later"),
    ("after everything", T0 + 7 * DAY, "shop", None),
]


@pytest.mark.parametrize(
    ("at", "channel", "expected"), [c[1:] for c in ENTRY_CASES], ids=[c[0] for c in ENTRY_CASES]
)
def test_entry_in_force(at, channel, expected):
    found = active_entry(ENTRIES, ITEM, channel, at)
    assert (found.ref if found else None) == expected


def test_an_entry_replaces_the_base_price_before_the_channel_rules_and_reverts_after():
    r = rule(markup_percent=D(10), rounding=Rounding(D("0.99")))
    assert compute(ITEM, BASE, ENTRIES, r, T0 - 1).price == D("110.99")
    during = compute(ITEM, BASE, ENTRIES, r, T0 + DAY)
    assert (during.price, during.entry_ref) == (D("66.99"), "shop-flash")  # 60 × 1.1 = 66 → 66.99
    assert [s.name for s in during.explanation][:2] == [StepName.BASE, StepName.ENTRY]
    adds_up(during)
    after = compute(ITEM, BASE, ENTRIES, r, T0 + 7 * DAY)
    assert (after.price, after.entry_ref) == (D("110.99"), None)


def test_floors_still_hold_during_an_entry():
    price = compute(ITEM, BASE, ENTRIES, rule(min_margin_percent=D(20)), T0 + DAY)
    assert price.price == D("84.00")  # the flash price 60 is under cost 70 + 20%
    adds_up(price)


def test_an_entry_without_a_base_price_is_enough():
    assert compute(ITEM, None, ENTRIES, rule(), T0).price == D("80.00")


@pytest.mark.parametrize(
    ("base", "settings", "code"),
    [
        (None, {}, "business.no_base_price"),
        (BASE, {"currency": "EUR", "base_currency": "USD"}, "business.exchange_rate_missing"),
        (
            BASE,
            {"base_currency": "EUR", "currency": "EUR", "exchange_rate": D(1)},
            "business.currency_mismatch",
        ),
    ],
    ids=["no price at all", "no exchange rate", "price list in another currency"],
)
def test_what_cannot_be_priced_is_a_typed_error(base, settings, code):
    with pytest.raises(DomainError) as raised:
        compute(ITEM, base, [], rule(**settings), T0)
    assert raised.value.code == code and raised.value.hint


@pytest.mark.parametrize(
    ("old", "new", "threshold", "expected"),
    [
        (None, "10", "5", False),  # first publication: nothing to compare with
        ("100", "110", None, False),  # no threshold
        ("100", "110", "10", False),  # exactly the threshold
        ("100", "110.01", "10", True),
        ("100", "89", "10", True),  # decreases count too
        ("0", "5", "50", True),  # from 0, any change
        ("100", "100", "0", False),
    ],
)
def test_needs_approval(old, new, threshold, expected):
    o, t = (D(old) if old else None), (D(threshold) if threshold else None)
    assert needs_approval(o, D(new), t) is expected


def test_change_percent():
    assert change_percent(D("80"), D("100")) == D("25.00")
    assert change_percent(D("3"), D("2")) == D("-33.33")
    assert change_percent(None, D(1)) is None and change_percent(D(0), D(1)) is None


GUARDED = rule(approval_threshold_percent=D(20))
DECISIONS = [
    # id, new, state, verdict, withdraw pending
    ("first publication goes out", "10", PriceState(), Verdict.PUBLISH, False),
    ("unchanged: nothing", "10", PriceState(D(10)), Verdict.NOTHING, False),
    ("small change goes out", "11", PriceState(D(10)), Verdict.PUBLISH, False),
    ("large change waits", "13", PriceState(D(10)), Verdict.REQUEST_APPROVAL, False),
    ("already waiting for this price", "13", PriceState(D(10), D(13)), Verdict.NOTHING, False),
    (
        "another large change replaces the request",
        "15",
        PriceState(D(10), D(13)),
        Verdict.REQUEST_APPROVAL,
        True,
    ),
    ("back to the published price: withdraw", "10", PriceState(D(10), D(13)), Verdict.NOTHING, True),
    ("a small change instead: publish, withdraw", "11", PriceState(D(10), D(13)), Verdict.PUBLISH, True),
    ("refused before: not asked again", "13", PriceState(D(10), None, D(13)), Verdict.NOTHING, False),
    (
        "another price after a refusal: asked",
        "14",
        PriceState(D(10), None, D(13)),
        Verdict.REQUEST_APPROVAL,
        False,
    ),
]


@pytest.mark.parametrize(
    ("new", "state", "verdict", "withdraw"), [d[1:] for d in DECISIONS], ids=[d[0] for d in DECISIONS]
)
def test_decide(new, state, verdict, withdraw):
    decision = decide(D(new), state, GUARDED)
    assert (decision.verdict, decision.withdraw_pending) == (verdict, withdraw)
    assert decision.price == D(new) and decision.reason


@pytest.mark.parametrize(
    ("new", "reverts_to", "verdict"),
    [("10", "10", Verdict.PUBLISH), ("10.5", "10", Verdict.PUBLISH), ("14", "10", Verdict.REQUEST_APPROVAL)],
    ids=["back to the price before", "near it", "far from it"],
)
def test_the_end_of_an_entry_is_measured_from_the_price_it_took_over_from(new, reverts_to, verdict):
    # published 7 under the entry: +43 % back to 10 would be over any threshold from 7
    decision = decide(D(new), PriceState(D(7)), GUARDED, reverts_to=D(reverts_to))
    assert decision.verdict is verdict


def test_entries_and_rules_refuse_nonsense():
    with pytest.raises(ValueError):
        PriceEntry("x", ITEM, D(1), T0, T0)
    with pytest.raises(ValueError):
        PriceEntry("x", ITEM, D(-1), T0)
    with pytest.raises(ValueError):
        rule(currency="XXX")
    with pytest.raises(ValueError):
        Rounding(D("-0.01"))
