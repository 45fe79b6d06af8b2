"""The PropellerAds client over respx: paging, rate limits, retries, typed errors, and no token in any message."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from core.errors import (
    AuthenticationError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    PropellerAdsError,
    RateLimitedError,
    ServerError,
    TransportError,
    ValidationError,
)
from core.adday import AdDay
from core.propellerads import ClientOptions, PropellerAdsClient, RateLimit, tz_chunks
from tests.core.conftest import BASE_URL, TOKEN, FakeClock, make_client


def campaign(campaign_id: int, **extra: Any) -> dict[str, Any]:
    return {"id": campaign_id, "name": f"c{campaign_id}", "status": 6, "limit_daily_amount": 50.0, **extra}


def campaign_pages(total: int, largest_page: int):
    """A side effect answering ?page=P&page_size=S the way the API does, granting at most largest_page a page.

    limit and offset mean nothing to it.
    """

    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        page_size = min(int(request.url.params.get("page_size", 100)), largest_page)
        pages = max(1, -(-total // page_size))
        first = (page - 1) * page_size + 1
        ids = range(first, min(first + page_size, total + 1))
        meta = {"total_items": total, "total_pages": pages, "page_size": page_size, "page": page}
        return httpx.Response(200, json={"result": [campaign(i) for i in ids], "meta": meta})

    return answer


def rate_limited(reset_at: float | None, remaining: int = 0) -> httpx.Response:
    headers = {"Content-Type": "text/html; charset=UTF-8"}
    if reset_at is not None:
        headers |= {"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(int(reset_at))}
    return httpx.Response(429, headers=headers, text="You exceeded the rate limit")


def stats_page(rows: list[dict[str, Any]], total_pages: int = 1) -> httpx.Response:
    return httpx.Response(200, json={"items": rows, "total_pages": total_pages, "total_items": len(rows), "per_page": 1000})


WEEK = (date(2025, 9, 23), date(2025, 9, 29))
EST = AdDay.parse("-05:00")


# --- paging -----------------------------------------------------------------------------


async def test_campaigns_reads_all_250_over_3_pages_by_page_number(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    route = mock_ads.get("/adv/campaigns").mock(side_effect=campaign_pages(250, 100))
    found = await api.campaigns()
    assert [c.id for c in found] == list(range(1, 251))
    assert route.call_count == 3
    sent = [call.request.url.params for call in route.calls]
    assert [p["page"] for p in sent] == ["1", "2", "3"]
    assert {p["page_size"] for p in sent} == {"1000"}
    assert not any("limit" in p or "offset" in p for p in sent)


@pytest.mark.parametrize(("largest_page", "calls"), [(1000, 3), (200, 13), (5000, 3)])
async def test_campaigns_ask_1000_a_page_and_follow_the_pages_the_server_grants(
    api: PropellerAdsClient, mock_ads: respx.MockRouter, largest_page: int, calls: int
) -> None:
    route = mock_ads.get("/adv/campaigns").mock(side_effect=campaign_pages(2500, largest_page))
    found = await api.campaigns()
    assert [c.id for c in found] == list(range(1, 2501))
    assert route.call_count == calls


async def test_campaigns_sends_status_and_archive_filters(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    route = mock_ads.get("/adv/campaigns").mock(side_effect=campaign_pages(3, 100))
    await api.campaigns(statuses=[6], archived=False)
    params = route.calls[0].request.url.params
    assert params.get_list("status[]") == ["6"]
    assert params["is_archived"] == "0"


async def test_campaigns_stops_at_an_empty_page_even_if_meta_promises_more(
    api: PropellerAdsClient, mock_ads: respx.MockRouter
) -> None:
    meta = {"total_items": 500, "total_pages": 5, "page_size": 100, "page": 1}
    route = mock_ads.get("/adv/campaigns").mock(
        side_effect=[
            httpx.Response(200, json={"result": [campaign(1)], "meta": meta}),
            httpx.Response(200, json={"result": [], "meta": meta | {"page": 2}}),
        ]
    )
    assert [c.id for c in await api.campaigns()] == [1]
    assert route.call_count == 2


async def test_statistics_reads_every_page(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    route = mock_ads.get("/adv/statistics").mock(
        side_effect=[
            stats_page([{"campaign_id": 1, "spent": 1.5}], total_pages=3),
            stats_page([{"campaign_id": 2, "spent": 2.25}], total_pages=3),
            stats_page([{"campaign_id": 3, "spent": 0.001}], total_pages=3),
        ]
    )
    rows = await api.statistics(*WEEK)
    assert [(r.campaign_id, r.spent) for r in rows] == [(1, Decimal("1.5")), (2, Decimal("2.25")), (3, Decimal("0.001"))]
    assert [call.request.url.params["page"] for call in route.calls] == ["1", "2", "3"]


async def test_statistics_asks_whole_days_grouped_by_campaign(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    route = mock_ads.get("/adv/statistics").mock(return_value=stats_page([]))
    await api.statistics(*WEEK, campaign_ids=[7, 3, 7])
    params = route.calls[0].request.url.params
    assert params["day_from"] == "2025-09-23 00:00:00"
    assert params["day_to"] == "2025-09-29 23:59:59"
    assert params.get_list("group_by[]") == ["campaign_id"]
    assert params.get_list("campaign_id[]") == ["3", "7"]


async def test_statistics_for_over_50_campaigns_posts_a_json_body(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    route = mock_ads.post("/adv/statistics").mock(return_value=stats_page([{"campaign_id": 1, "spent": 3.0}]))
    rows = await api.statistics(*WEEK, campaign_ids=range(1, 52))
    assert len(rows) == 1
    body = json.loads(route.calls[0].request.content)
    assert body == {
        "day_from": "2025-09-23 00:00:00",
        "day_to": "2025-09-29 23:59:59",
        "group_by": ["campaign_id"],
        "tz": "+0000",
        "campaign_id": list(range(1, 52)),
        "page": 1,
    }
    assert api.calls == Counter({"POST /adv/statistics": 1})


# --- tz on every query, a week at most each ------------------------------------------------


def sent_ranges(route: respx.Route) -> list[tuple[str, str, str]]:
    return [(p["day_from"][:10], p["day_to"][:10], p["tz"]) for p in (c.request.url.params for c in route.calls)]


@pytest.mark.parametrize(
    ("day_from", "day_to"),
    [
        pytest.param(date(2025, 9, 29), date(2025, 9, 29), id="one-day"),
        pytest.param(date(2025, 9, 23), date(2025, 9, 29), id="7-calendar-days"),
        # The recorded 200: day_from 09-22, day_to 09-29 with tz, accepted live.
        pytest.param(date(2025, 9, 22), date(2025, 9, 29), id="8-calendar-days-as-recorded"),
    ],
)
async def test_a_week_at_most_is_one_query_with_the_ad_day_s_tz(
    api: PropellerAdsClient, mock_ads: respx.MockRouter, day_from: date, day_to: date
) -> None:
    route = mock_ads.get("/adv/statistics").mock(return_value=stats_page([]))
    await api.statistics(day_from, day_to, ad_day=EST)
    assert sent_ranges(route) == [(str(day_from), str(day_to), "-0500")]


async def test_without_an_ad_day_days_are_cut_at_utc(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    route = mock_ads.get("/adv/statistics").mock(return_value=stats_page([]))
    await api.statistics(*WEEK)
    assert sent_ranges(route) == [("2025-09-23", "2025-09-29", "+0000")]


async def test_30_days_are_read_a_week_at_a_time_each_with_tz_and_merged_per_campaign(
    api: PropellerAdsClient, mock_ads: respx.MockRouter
) -> None:
    # The recorded 400 refuses tz on this 30-day range as one query.
    route = mock_ads.get("/adv/statistics").mock(
        side_effect=[
            stats_page([{"campaign_id": 1, "spent": 1.5, "conversions": 1}, {"campaign_id": 2, "spent": 0.25}]),
            stats_page([{"campaign_id": 1, "spent": 2.25, "clicks": 3}]),
            stats_page([]),
            stats_page([{"campaign_id": 1, "spent": 0.001, "impressions": 10, "daily_amount": 90}]),
        ]
    )
    rows = await api.statistics(date(2025, 8, 30), date(2025, 9, 29), ad_day=EST)
    assert sent_ranges(route) == [
        ("2025-08-30", "2025-09-06", "-0500"),
        ("2025-09-07", "2025-09-14", "-0500"),
        ("2025-09-15", "2025-09-22", "-0500"),
        ("2025-09-23", "2025-09-29", "-0500"),
    ]
    by_campaign = {r.campaign_id: r for r in rows}
    assert len(rows) == 2
    one = by_campaign[1]
    assert (one.spent, one.conversions, one.clicks, one.impressions) == (Decimal("3.751"), 1, 3, 10)
    assert one.daily_amount == Decimal(90)  # the latest chunk's view of the daily budget
    assert by_campaign[2].spent == Decimal("0.25")


async def test_rows_per_day_are_kept_apart_across_chunks(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    mock_ads.get("/adv/statistics").mock(
        side_effect=[
            stats_page([{"campaign_id": 1, "date_time": "2025-09-01", "spent": 1.0}]),
            stats_page([{"campaign_id": 1, "date_time": "2025-09-10", "spent": 2.0}]),
        ]
    )
    rows = await api.statistics(date(2025, 9, 1), date(2025, 9, 10), group_by=("campaign_id", "date_time"))
    assert [(r.day, r.spent) for r in rows] == [(date(2025, 9, 1), Decimal("1.0")), (date(2025, 9, 10), Decimal("2.0"))]


async def test_a_chunk_never_spans_a_daylight_saving_change(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    # New York falls back at 02:00 on 2025-11-02: that day starts on -0400, the next on -0500.
    route = mock_ads.get("/adv/statistics").mock(return_value=stats_page([]))
    await api.statistics(date(2025, 10, 29), date(2025, 11, 4), ad_day=AdDay.parse("America/New_York"))
    assert sent_ranges(route) == [("2025-10-29", "2025-11-02", "-0400"), ("2025-11-03", "2025-11-04", "-0500")]


def test_a_range_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before"):
        tz_chunks(date(2025, 9, 2), date(2025, 9, 1), EST)


# --- rate limits --------------------------------------------------------------------------


async def test_429_waits_until_the_reset_then_succeeds_with_two_requests(
    api: PropellerAdsClient, mock_ads: respx.MockRouter, api_clock: FakeClock
) -> None:
    reset = api_clock.now + 30
    route = mock_ads.get("/adv/statistics").mock(
        side_effect=[rate_limited(reset), stats_page([{"campaign_id": 1, "spent": 4.0}])]
    )
    rows = await api.statistics(*WEEK)
    assert [r.spent for r in rows] == [Decimal("4.0")]
    # 30 s to the reset plus one second of margin, waited once, on the injected sleep.
    assert api_clock.sleeps == [31.0]
    assert route.call_count == 2
    assert api.calls == Counter({"GET /adv/statistics": 2})


async def test_429_with_reset_beyond_max_wait_fails_at_once(
    api: PropellerAdsClient, mock_ads: respx.MockRouter, api_clock: FakeClock
) -> None:
    reset = api_clock.now + 600  # max_rate_limit_wait is 90 s by default
    route = mock_ads.get("/adv/statistics").mock(return_value=rate_limited(reset))
    with pytest.raises(RateLimitedError) as caught:
        await api.statistics(*WEEK)
    assert route.call_count == 1
    assert api_clock.sleeps == []
    assert caught.value.reset_at == reset
    assert caught.value.detail == "You exceeded the rate limit"


async def test_429_with_reset_beyond_a_configured_max_wait_fails_at_once(
    api_clock: FakeClock, mock_ads: respx.MockRouter
) -> None:
    route = mock_ads.get("/adv/balance").mock(return_value=rate_limited(api_clock.now + 30))
    async with make_client(api_clock, ClientOptions(max_rate_limit_wait=10)) as api:
        with pytest.raises(RateLimitedError):
            await api.balance()
    assert (route.call_count, api_clock.sleeps) == (1, [])


async def test_429_without_rate_limit_headers_waits_a_minute(
    api: PropellerAdsClient, mock_ads: respx.MockRouter, api_clock: FakeClock
) -> None:
    mock_ads.get("/adv/balance").mock(side_effect=[rate_limited(None), httpx.Response(200, json="10.00")])
    assert await api.balance() == Decimal("10.00")
    assert api_clock.sleeps == [60.0]


async def test_a_spent_window_is_waited_out_before_sending_instead_of_provoking_a_429(
    api: PropellerAdsClient, mock_ads: respx.MockRouter, api_clock: FakeClock
) -> None:
    spent = {"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(api_clock.now + 20))}
    route = mock_ads.get("/adv/statistics").mock(return_value=httpx.Response(200, headers=spent, json={"items": []}))
    await api.statistics(*WEEK)
    assert api_clock.sleeps == []
    await api.statistics(*WEEK)
    assert api_clock.sleeps == [21.0]
    assert route.call_count == 2


async def test_rate_limit_headers_are_remembered_by_endpoint(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    headers = {"X-RateLimit-Limit": "150", "X-RateLimit-Remaining": "149", "X-RateLimit-Reset": "1759606403"}
    mock_ads.get("/adv/campaigns/9446595").mock(return_value=httpx.Response(200, headers=headers, json=campaign(9446595)))
    await api.campaign(9446595)
    assert api.rate_limits == {"adv/campaigns/{id}": RateLimit(limit=150, remaining=149, reset_at=1759606403.0)}


# --- retries and typed errors ---------------------------------------------------------------


async def test_5xx_then_success_retries_with_exponential_backoff(
    api: PropellerAdsClient, mock_ads: respx.MockRouter, api_clock: FakeClock
) -> None:
    route = mock_ads.get("/adv/balance").mock(
        side_effect=[httpx.Response(502, text="Bad Gateway"), httpx.Response(503), httpx.Response(200, json="12.34")]
    )
    assert await api.balance() == Decimal("12.34")
    assert route.call_count == 3
    assert api_clock.sleeps == [0.5, 1.0]


async def test_5xx_forever_stops_after_the_configured_attempts(
    api: PropellerAdsClient, mock_ads: respx.MockRouter, api_clock: FakeClock
) -> None:
    route = mock_ads.get("/adv/balance").mock(return_value=httpx.Response(500, json={"message": "Internal error"}))
    with pytest.raises(ServerError) as caught:
        await api.balance()
    assert route.call_count == 4
    assert api_clock.sleeps == [0.5, 1.0, 2.0]
    assert caught.value.status == 500
    assert caught.value.detail == "Internal error"


async def test_backoff_is_capped_at_backoff_max(api_clock: FakeClock, mock_ads: respx.MockRouter) -> None:
    route = mock_ads.get("/adv/balance").mock(return_value=httpx.Response(503))
    async with make_client(api_clock, ClientOptions(attempts=6, backoff_max=1.5)) as api:
        with pytest.raises(ServerError):
            await api.balance()
    assert route.call_count == 6
    assert api_clock.sleeps == [0.5, 1.0, 1.5, 1.5, 1.5]


@pytest.mark.parametrize(
    ("fault", "detail"),
    [
        pytest.param(httpx.ReadTimeout("timed out"), "no answer within 15 s", id="read-timeout"),
        pytest.param(httpx.ConnectTimeout("timed out"), "no answer within 15 s", id="connect-timeout"),
        pytest.param(httpx.ConnectError("refused"), "connection refused or host unreachable", id="connect-error"),
        pytest.param(
            httpx.RemoteProtocolError("closed"), "the connection was dropped before an answer", id="dropped"
        ),
    ],
)
async def test_network_faults_become_transport_error_after_bounded_retries(
    api: PropellerAdsClient, mock_ads: respx.MockRouter, api_clock: FakeClock, fault: Exception, detail: str
) -> None:
    route = mock_ads.get("/adv/balance").mock(side_effect=fault)
    with pytest.raises(TransportError) as caught:
        await api.balance()
    assert route.call_count == 4
    assert caught.value.detail == detail
    assert caught.value.endpoint == "GET /adv/balance"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_a_network_fault_then_success_is_retried(
    api: PropellerAdsClient, mock_ads: respx.MockRouter, api_clock: FakeClock
) -> None:
    mock_ads.get("/adv/balance").mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json="1.00")])
    assert await api.balance() == Decimal("1.00")
    assert api_clock.sleeps == [0.5]


async def test_malformed_json_on_200_is_malformed_response_and_not_retried(
    api: PropellerAdsClient, mock_ads: respx.MockRouter
) -> None:
    route = mock_ads.get("/adv/campaigns").mock(
        return_value=httpx.Response(200, headers={"Content-Type": "application/json"}, content=b'{"result": [')
    )
    with pytest.raises(MalformedResponseError) as caught:
        await api.campaigns()
    assert route.call_count == 1
    assert caught.value.status == 200
    assert caught.value.detail == 'the body is not JSON: {"result": ['


async def test_json_of_the_wrong_shape_is_malformed_response(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    mock_ads.get("/adv/campaigns").mock(return_value=httpx.Response(200, json=[campaign(1)]))
    with pytest.raises(MalformedResponseError):
        await api.campaigns()


async def test_a_balance_that_is_not_an_amount_is_malformed_response(
    api: PropellerAdsClient, mock_ads: respx.MockRouter
) -> None:
    mock_ads.get("/adv/balance").mock(return_value=httpx.Response(200, json="n/a"))
    with pytest.raises(MalformedResponseError) as caught:
        await api.balance()
    assert caught.value.detail == "expected an amount, got n/a"


async def test_401_is_authentication_error_and_not_retried(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    route = mock_ads.get("/adv/balance").mock(return_value=httpx.Response(401, json={"message": "Unauthorized"}))
    with pytest.raises(AuthenticationError) as caught:
        await api.balance()
    assert route.call_count == 1
    assert caught.value.detail == "Unauthorized"
    assert str(caught.value) == "PropellerAds refused the API token (401) on GET /adv/balance: Unauthorized"


async def test_404_on_a_campaign_is_not_found(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    mock_ads.get("/adv/campaigns/42").mock(return_value=httpx.Response(404, json={"errors": ["Campaign not found."]}))
    with pytest.raises(NotFoundError) as caught:
        await api.campaign(42)
    assert caught.value.detail == "Campaign not found."
    assert caught.value.endpoint == "GET /adv/campaigns/42"


# --- parsing ------------------------------------------------------------------------------


async def test_null_daily_limit_reads_as_no_limit(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    mock_ads.get("/adv/campaigns/5").mock(
        return_value=httpx.Response(200, json=campaign(5, limit_daily_amount=None, limit_total_amount=None))
    )
    found = await api.campaign(5)
    assert found.daily_budget is None
    assert found.total_budget is None


async def test_unknown_fields_are_tolerated(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    mock_ads.get("/adv/campaigns/5").mock(
        return_value=httpx.Response(
            200, json=campaign(5, limit_daily_amount=97.137, brand_new_field={"x": [1]}, capping=3, frequency=2)
        )
    )
    found = await api.campaign(5)
    assert (found.id, found.daily_budget, found.is_working) == (5, Decimal("97.137"), True)


# --- writes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "sent"),
    [
        pytest.param(Decimal("180"), 180.0, id="whole"),
        pytest.param(Decimal("179.995"), 180.0, id="half-cent-rounds-up"),
        pytest.param(Decimal("42.125"), 42.13, id="half-up-not-banker"),
        pytest.param(Decimal("42.124"), 42.12, id="below-half-rounds-down"),
        pytest.param(None, None, id="no-limit"),
    ],
)
async def test_set_daily_budget_patches_limit_daily_amount_rounded_to_cents(
    api: PropellerAdsClient, mock_ads: respx.MockRouter, amount: Decimal | None, sent: float | None
) -> None:
    route = mock_ads.patch("/adv/campaigns/9446595").mock(return_value=httpx.Response(200, json={}))
    await api.set_daily_budget(9446595, amount)
    request = route.calls[0].request
    assert json.loads(request.content) == {"limit_daily_amount": sent}
    assert request.headers["Content-Type"] == "application/json"


async def test_start_and_stop_send_campaign_ids(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    play = mock_ads.put("/adv/campaigns/play").mock(return_value=httpx.Response(200, json={}))
    stop = mock_ads.put("/adv/campaigns/stop").mock(return_value=httpx.Response(200, json={}))
    await api.start_campaigns([1, 2])
    await api.stop_campaigns([3])
    assert json.loads(play.calls[0].request.content) == {"campaign_ids": [1, 2]}
    assert json.loads(stop.calls[0].request.content) == {"campaign_ids": [3]}


# --- the token ----------------------------------------------------------------------------


async def test_every_request_carries_the_bearer_token(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    route = mock_ads.get("/adv/balance").mock(return_value=httpx.Response(200, json="1.00"))
    await api.balance()
    assert route.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_an_empty_token_is_refused() -> None:
    with pytest.raises(ValueError):
        PropellerAdsClient("")


def echo(status: int, content_type: str = "application/json"):
    """An answer that repeats the request's Authorization header back, as some proxies do."""

    def answer(request: httpx.Request) -> httpx.Response:
        words = f"bad credentials: {request.headers['Authorization']}"
        body = words.encode() if content_type == "text/html" else json.dumps({"errors": [words]}).encode()
        return httpx.Response(status, headers={"Content-Type": content_type}, content=body)

    return answer


ERROR_KINDS = [
    pytest.param(httpx.Response(400, json={"tz": ["Time zone is available only in the weekly period."]}), ValidationError, id="400"),
    pytest.param(httpx.Response(401, json={"message": "Unauthorized"}), AuthenticationError, id="401"),
    pytest.param(httpx.Response(403, json={"errors": ["Access denied."]}), PermissionDeniedError, id="403"),
    pytest.param(httpx.Response(404, json="No route found"), NotFoundError, id="404"),
    pytest.param(rate_limited(1_759_199_999), RateLimitedError, id="429"),
    pytest.param(httpx.Response(500, text="oops"), ServerError, id="500"),
    pytest.param(httpx.Response(418, text="teapot"), PropellerAdsError, id="other-4xx"),
    pytest.param(httpx.Response(200, content=b"<html>"), MalformedResponseError, id="not-json"),
    pytest.param(httpx.Response(200, json={"unexpected": True}), MalformedResponseError, id="wrong-shape"),
    pytest.param(httpx.ReadTimeout("timed out"), TransportError, id="timeout"),
    pytest.param(httpx.ConnectError("refused"), TransportError, id="connect"),
    pytest.param(echo(400), ValidationError, id="400-echoing-the-token"),
    pytest.param(echo(401), AuthenticationError, id="401-echoing-the-token"),
    pytest.param(echo(403), PermissionDeniedError, id="403-echoing-the-token"),
    pytest.param(echo(500, "text/html"), ServerError, id="500-echoing-the-token"),
    pytest.param(echo(200, "text/html"), MalformedResponseError, id="200-echoing-the-token"),
]


@pytest.mark.parametrize(("answer", "kind"), ERROR_KINDS)
async def test_no_error_message_or_repr_contains_the_token(
    api: PropellerAdsClient, mock_ads: respx.MockRouter, answer: Any, kind: type[PropellerAdsError]
) -> None:
    route = mock_ads.get("/adv/campaigns/7")
    if isinstance(answer, httpx.Response):
        route.mock(return_value=answer)
    else:
        route.mock(side_effect=answer)
    with pytest.raises(PropellerAdsError) as caught:
        await api.campaign(7)
    exc = caught.value
    assert type(exc) is kind
    texts = [str(exc), repr(exc), exc.detail, exc.endpoint, *map(str, exc.args), repr(getattr(exc, "fields", None))]
    assert not [t for t in texts if TOKEN in t]
    assert exc.__cause__ is None


# --- accounting ---------------------------------------------------------------------------


async def test_calls_counts_requests_by_endpoint_retries_included(
    api: PropellerAdsClient, mock_ads: respx.MockRouter
) -> None:
    mock_ads.get("/adv/balance").mock(side_effect=[httpx.Response(503), httpx.Response(200, json="1.00"), httpx.Response(200, json="2.00")])
    mock_ads.get(url__regex=rf"{BASE_URL}/adv/campaigns/\d+").mock(side_effect=lambda r: httpx.Response(200, json=campaign(int(r.url.path.rsplit("/", 1)[1]))))
    mock_ads.get("/adv/campaigns").mock(side_effect=campaign_pages(150, 100))
    mock_ads.get("/adv/statistics").mock(return_value=stats_page([]))
    await api.balance()
    await api.balance()
    await api.campaign(1)
    await api.campaign(2)
    await api.campaigns()
    await api.statistics(*WEEK)
    assert api.calls == Counter(
        {
            "GET /adv/balance": 3,
            "GET /adv/campaigns/{id}": 2,
            "GET /adv/campaigns": 2,
            "GET /adv/statistics": 1,
        }
    )


async def test_a_200_balance_echoing_the_token_is_reported_without_it(
    api: PropellerAdsClient, mock_ads: respx.MockRouter
) -> None:
    mock_ads.get("/adv/balance").mock(side_effect=echo(200))
    with pytest.raises(MalformedResponseError) as caught:
        await api.balance()
    assert TOKEN not in str(caught.value)
    assert caught.value.detail == "expected an amount, got {'errors': ['bad credentials: Bearer [redacted]']}"


async def test_a_short_token_does_not_break_reading_the_answers(api_clock: FakeClock, mock_ads: respx.MockRouter) -> None:
    # The sandbox's token can be "t": redacting it from the raw body turned "result" into "resul[redacted]".
    mock_ads.get("/adv/campaigns").mock(side_effect=campaign_pages(3, 100))
    mock_ads.get("/adv/balance").mock(return_value=httpx.Response(200, json="1517.70"))
    async with make_client(api_clock, token="t") as short:
        assert [c.id for c in await short.campaigns()] == [1, 2, 3]
        assert await short.balance() == Decimal("1517.70")


@pytest.mark.parametrize("status", [400, 403, 500])
async def test_a_token_echoed_json_escaped_is_redacted_too(api_clock: FakeClock, mock_ads: respx.MockRouter, status: int) -> None:
    # The live API writes "/" as "\/": the echoed token then differs from the one sent.
    token = "pa/slash/token-0b7e"
    escaped = token.replace("/", "\\/")
    body = '{"errors": ["bad credentials: Bearer ' + escaped + '"], "token": ["' + escaped + '"]}'
    mock_ads.get("/adv/balance").mock(return_value=httpx.Response(status, content=body.encode(), headers={"Content-Type": "application/json"}))
    async with make_client(api_clock, ClientOptions(attempts=1), token=token) as client:
        with pytest.raises(PropellerAdsError) as caught:
            await client.balance()
    texts = [str(caught.value), repr(getattr(caught.value, "fields", None))]
    assert not [t for t in texts if token in t or escaped in t]
    assert "[redacted]" in str(caught.value)


async def test_a_huge_400_is_clipped_to_one_readable_line(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    fields = {f"field_{i}": ["This value is not valid. " * 20] for i in range(120)}  # about 60 KB
    mock_ads.patch("/adv/campaigns/7").mock(return_value=httpx.Response(400, json=fields))
    with pytest.raises(ValidationError) as caught:
        await api.set_daily_budget(7, Decimal("10"))
    assert len(json.dumps(fields)) > 60_000
    summary = str(caught.value)
    assert "\n" not in summary and len(summary) <= 600
    assert summary.startswith("PropellerAds rejected the request (400) on PATCH /adv/campaigns/7: field_0: This value")
    assert len(caught.value.fields) == 120, "the fields stay whole for code that reads them"


async def test_campaigns_with_unreadable_money_are_left_out_and_reported(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    items = [
        campaign(1),
        campaign(2, limit_daily_amount=1e27),
        campaign(3, limit_daily_amount=-5),
        campaign(4, limit_daily_amount="1_000"),
        campaign(5),
    ]
    meta = {"total_items": 5, "total_pages": 1, "page_size": 100, "page": 1}
    mock_ads.get("/adv/campaigns").mock(return_value=httpx.Response(200, json={"result": items, "meta": meta}))
    unreadable: list[Any] = []
    found = await api.campaigns(unreadable=unreadable)
    assert [c.id for c in found] == [1, 5]
    assert [(u.campaign_id, u.name) for u in unreadable] == [(2, "c2"), (3, "c3"), (4, "c4")]
    assert "out of range" in unreadable[0].reason and "limit_daily_amount" in unreadable[0].reason
    assert "-5" in unreadable[1].reason
    assert "not an amount" in unreadable[2].reason


async def test_statistics_rows_with_unreadable_money_are_left_out_and_reported(api: PropellerAdsClient, mock_ads: respx.MockRouter) -> None:
    rows = [
        {"campaign_id": 1, "spent": 12.5, "conversions": 1},
        {"campaign_id": 2, "spent": "1e30", "conversions": 0},
        {"campaign_id": 3, "spent": -4, "conversions": 0},
    ]
    mock_ads.get("/adv/statistics").mock(return_value=stats_page(rows))
    unreadable: list[Any] = []
    found = await api.statistics(*WEEK, unreadable=unreadable)
    assert [r.campaign_id for r in found] == [1]
    assert [u.campaign_id for u in unreadable] == [2, 3]


class StatisticsWindow:
    """The statistics limit as PropellerAds keeps it: `limit` calls a minute, counted on the client's clock."""

    def __init__(self, clock: FakeClock, limit: int = 2) -> None:
        self.clock, self.limit = clock, limit
        self.window_end, self.used = clock.now + 60, 0
        self.sent_at: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.clock.now >= self.window_end:
            self.window_end, self.used = self.clock.now + 60, 0
        if self.used >= self.limit:
            return rate_limited(self.window_end)
        self.used += 1
        self.sent_at.append(self.clock.now)
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.limit - self.used),
            "X-RateLimit-Reset": str(int(self.window_end)),
        }
        return httpx.Response(200, headers=headers, json={"items": []})


async def test_background_reads_leave_the_last_call_of_each_window_to_foreground_work(
    api: PropellerAdsClient, mock_ads: respx.MockRouter, api_clock: FakeClock
) -> None:
    window = StatisticsWindow(api_clock)
    mock_ads.get("/adv/statistics").mock(side_effect=window)
    with api.background():
        await api.statistics(*WEEK)
        await api.statistics(*WEEK)  # the window's last call is not the backfill's: it waits for the next window
    assert api_clock.sleeps == [61.0]
    waited = len(api_clock.sleeps)
    await api.statistics(*WEEK)  # a check arriving now has its call at once
    assert api_clock.sleeps[waited:] == []
    assert len(window.sent_at) == 3


async def test_a_background_read_waits_while_foreground_work_waits_on_the_same_limit(
    api_clock: FakeClock, mock_ads: respx.MockRouter
) -> None:
    window = StatisticsWindow(api_clock, limit=1)
    order: list[str] = []
    mock_ads.get("/adv/statistics").mock(side_effect=window)

    async def sleep(seconds: float) -> None:
        await api_clock.sleep(seconds)
        for _ in range(5):  # others run while this one waits, as they would in a real wait
            await asyncio.sleep(0)

    async with PropellerAdsClient(TOKEN, BASE_URL, sleep=sleep, clock=api_clock) as api:
        await api.statistics(*WEEK)  # the window is spent: the next call of either kind waits for it

        async def check() -> None:
            await api.statistics(*WEEK)
            order.append("check")

        async def backfill() -> None:
            with api.background():
                await api.statistics(*WEEK)
            order.append("backfill")

        await asyncio.gather(check(), backfill())
    assert order == ["check", "backfill"]
    assert len(window.sent_at) == 3
