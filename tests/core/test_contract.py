"""The recorded exchanges with the live PropellerAds API, replayed byte for byte: the client's contract."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from core.errors import NotFoundError, PermissionDeniedError, RateLimitedError, ValidationError
from core.models import Campaign
from core.propellerads import ClientOptions, PropellerAdsClient, RateLimit
from tests.core.conftest import FakeClock, make_client

RECORDINGS = Path(__file__).parents[2].parent / "shared/propellerads/recordings"
LIVE_HOST = "ssp-api.propellerads.com"


class Replay:
    """One recording served exactly as it came back: status, headers and body bytes."""

    def __init__(self, path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        self.name = path.name
        self.request: dict[str, Any] = data["request"]
        self.response: dict[str, Any] = data["response"]
        self.recorded_at = parsedate_to_datetime(data["recorded"]).timestamp()

    @property
    def body(self) -> bytes:
        return self.response["body"].encode("utf-8")

    def served(self) -> httpx.Response:
        return httpx.Response(self.response["status"], headers=self.response["headers"], content=self.body)

    def exact_json(self) -> Any:
        """The body with every float read as the exact Decimal the API wrote."""
        return json.loads(self.body, parse_float=Decimal)


Check = Callable[[PropellerAdsClient, respx.Route, Replay, FakeClock], Awaitable[None]]
EXPECTATIONS: dict[str, Check] = {}


def expect(name: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        EXPECTATIONS[name] = check
        return check

    return register


def sent_params(route: respx.Route, index: int = 0) -> httpx.QueryParams:
    return route.calls[index].request.url.params


@expect("balance-200.json")
async def _balance(api: PropellerAdsClient, route: respx.Route, rec: Replay, api_clock: FakeClock) -> None:
    balance = await api.balance()
    assert balance == Decimal("1517.70")
    assert str(balance) == "1517.70"  # read from the string, the cents are kept as written
    assert api.rate_limits["adv/balance"] == RateLimit(limit=30, remaining=29, reset_at=1759199357.0)


@expect("campaign-by-id-200.json")
async def _campaign_by_id(api: PropellerAdsClient, route: respx.Route, rec: Replay, api_clock: FakeClock) -> None:
    campaign = await api.campaign(9446595)
    assert campaign == Campaign(
        id=9446595,
        name="[OnClick (Popunder)] [CPAG] 9446595",
        status=8,
        is_archived=True,
        daily_budget=Decimal("150.0"),
        total_budget=None,
        rate_model="scpa",
        direction_id=1,
        started_at="2025-05-18",
    )
    assert campaign.status_label == "stopped"
    assert not campaign.is_working


@expect("campaign-create-validation-400.json")
async def _create_validation(api: PropellerAdsClient, route: respx.Route, rec: Replay, api_clock: FakeClock) -> None:
    # The bot never creates campaigns; this exchange pins how a nested 400 field map is read.
    with pytest.raises(ValidationError) as caught:
        await api._request("POST", "adv/campaigns", json=json.loads(rec.request["body"]))
    assert caught.value.fields == {"targeting.traffic_categories": ["The value you selected is not a valid choice."]}
    assert caught.value.status == 400
    assert route.call_count == 1, "a 400 is not retried"


@expect("campaign-patch-403.json")
async def _patch_denied(api: PropellerAdsClient, route: respx.Route, rec: Replay, api_clock: FakeClock) -> None:
    with pytest.raises(PermissionDeniedError) as caught:
        await api.set_daily_budget(9446595, Decimal("1"))
    assert caught.value.detail == "Access denied."
    assert caught.value.status == 403
    assert "Access denied." in str(caught.value)
    assert route.call_count == 1, "a 403 is not retried"


@expect("campaigns-list-page-size-1-200.json")
async def _list_page_size_1(api: PropellerAdsClient, route: respx.Route, rec: Replay, api_clock: FakeClock) -> None:
    # The same one-campaign page answers every request, so following meta.total_pages (802)
    # yields 802 copies: proof that the client reads as many pages as the meta announces.
    campaigns = await api.campaigns(page_size=1)
    assert route.call_count == 802
    assert len(campaigns) == 802
    assert {c.id for c in campaigns} == {9446595}
    assert campaigns[0].daily_budget == Decimal("150.0")
    assert [int(sent_params(route, i)["page"]) for i in (0, 1, 801)] == [1, 2, 802]


@expect("campaigns-list-page1-200.json")
async def _list_page1(api: PropellerAdsClient, route: respx.Route, rec: Replay, api_clock: FakeClock) -> None:
    recorded = rec.exact_json()["result"]
    campaigns = await api.campaigns()
    assert route.call_count == 9  # meta: 802 campaigns, 9 pages of 100
    assert len(campaigns) == 900  # the recorded page of 100, served for each of the 9 pages
    assert [c.id for c in campaigns[:100]] == [c["id"] for c in recorded]
    assert [c.daily_budget for c in campaigns[:100]] == [c["limit_daily_amount"] for c in recorded]
    assert [c.status for c in campaigns[:100]] == [c["status"] for c in recorded]
    # The recording asked with limit/offset, which the API ignores: the client pages instead, asking
    # 1000 a page and following the 9 pages the meta announces for the 100 a page it granted.
    for index in range(9):
        params = sent_params(route, index)
        assert params["page"] == str(index + 1)
        assert params["page_size"] == "1000"
        assert "limit" not in params and "offset" not in params


@expect("statistics-30-days-with-tz-400.json")
async def _stats_tz_refused(api: PropellerAdsClient, route: respx.Route, rec: Replay, api_clock: FakeClock) -> None:
    with pytest.raises(ValidationError) as caught:
        await api.statistics(date(2025, 8, 30), date(2025, 9, 29))
    assert caught.value.fields == {"tz": ["Time zone is available only in the weekly period."]}
    assert route.call_count == 1
    # The cure the recording teaches: a 30-day range goes a week at a time, each week with its tz.
    params = sent_params(route)
    assert (params["day_from"], params["day_to"], params["tz"]) == ("2025-08-30 00:00:00", "2025-09-06 23:59:59", "+0000")


@expect("statistics-by-campaign-7-days-200.json")
async def _stats_7_days(api: PropellerAdsClient, route: respx.Route, rec: Replay, api_clock: FakeClock) -> None:
    rows = await api.statistics(date(2025, 9, 22), date(2025, 9, 29))
    assert route.call_count == 1
    assert len(rows) == 67
    exact = rec.exact_json()["items"]
    assert sum((r.spent for r in rows), Decimal(0)) == Decimal("6900.081")
    assert sum((item["spent"] for item in exact), Decimal(0)) == Decimal("6900.081")
    assert [r.spent for r in rows] == [item["spent"] for item in exact]
    assert [r.campaign_id for r in rows] == [item["campaign_id"] for item in exact]
    assert sum(r.conversions for r in rows) == 755  # the recorded totals.conversions
    first = rows[0]
    assert (first.campaign_id, first.spent, first.conversions, first.daily_amount) == (
        9760576,
        Decimal("97.137"),
        23,
        Decimal(2000),
    )
    # This 8-calendar-day range went out with tz and was accepted live; the client does the same.
    assert sent_params(route)["tz"] == "+0000"
    assert sent_params(route).get_list("group_by[]") == ["campaign_id"]


@expect("statistics-rate-limited-429.json")
async def _stats_rate_limited(api: PropellerAdsClient, route: respx.Route, rec: Replay, api_clock: FakeClock) -> None:
    api_clock.now = rec.recorded_at  # 00:01:55 GMT; the window resets at 1759190573, 58 s later
    with pytest.raises(RateLimitedError) as caught:
        await api.statistics(date(2025, 8, 30), date(2025, 9, 29))
    attempts = ClientOptions().attempts
    assert route.call_count == attempts == 4
    # One wait up to the reset (plus a second's margin), then a second's margin for each retry.
    assert api_clock.sleeps == [59.0, 1.0, 1.0]
    assert caught.value.reset_at == 1759190573.0
    assert caught.value.detail == "You exceeded the rate limit"
    assert caught.value.status == 429


@expect("unknown-route-404.json")
async def _unknown_route(api: PropellerAdsClient, route: respx.Route, rec: Replay, api_clock: FakeClock) -> None:
    with pytest.raises(NotFoundError) as caught:
        await api._request("GET", "adv/collections/countries")
    assert caught.value.detail == 'No route found for "GET https://ssp-api.propellerads.com/v5/adv/collections/countries"'
    assert caught.value.status == 404
    assert route.call_count == 1, "a 404 is not retried"


def _recording_params() -> list[Any]:
    if not RECORDINGS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no recordings directory at {RECORDINGS}"))]
    return [pytest.param(path, id=path.name) for path in sorted(RECORDINGS.iterdir()) if path.is_file()]


@pytest.mark.parametrize("path", _recording_params())
async def test_recorded_exchange_is_parsed_or_raises_its_typed_error(path: Path, api_clock: FakeClock) -> None:
    check = EXPECTATIONS.get(path.name)
    if check is None:
        pytest.fail(f"recording {path.name} has no expectation: add one to EXPECTATIONS in {Path(__file__).name}")
    rec = Replay(path)
    with respx.mock(assert_all_mocked=True) as router:
        route = router.route(
            method=rec.request["method"], scheme="https", host=LIVE_HOST, path=rec.request["path"]
        ).mock(side_effect=lambda request: rec.served())
        async with make_client(api_clock) as api:
            await check(api, route, rec, api_clock)


def test_every_expectation_has_its_recording() -> None:
    if not RECORDINGS.is_dir():
        pytest.skip(f"no recordings directory at {RECORDINGS}")
    present = {path.name for path in RECORDINGS.iterdir()}
    assert sorted(set(EXPECTATIONS) - present) == [], "an expected recording was renamed or removed"
