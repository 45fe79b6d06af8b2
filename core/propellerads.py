"""Async client of the PropellerAds SSP API v5: typed answers, typed errors, rate limits respected."""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time as dtime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pydantic
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from core.adday import UTC_DAY, AdDay
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
    flatten_fields,
    one_line,
)
from core.models import Campaign, CampaignPage, StatisticsPage, StatisticsRow, UnreadableItem
from core.money import cents, to_decimal

log = logging.getLogger(__name__)

LIVE_BASE_URL = "https://ssp-api.propellerads.com/v5"
STATS_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# The API refuses `tz` on ranges longer than a week (recorded: day_to 7 days after day_from
# accepted, 30 days refused).
MAX_TZ_SPAN_DAYS = 7
# Public clients ask this much; the largest size the API grants is not recorded.
CAMPAIGN_PAGE_SIZE = 1000
# Rows of these groupings can be told apart by the fields StatisticsRow keeps, so rows of one
# campaign (and day) read in different chunks can be added up.
MERGEABLE_GROUPINGS = frozenset({"campaign_id", "date_time"})
# Long campaign filters go in a POST body rather than an overlong query string.
MAX_QUERY_CAMPAIGN_IDS = 50

M = TypeVar("M", bound=pydantic.BaseModel)

RESERVED_CALLS = 1
"""Calls of each rate-limit window background work leaves to foreground work (checks, commands, answers)."""
_IN_BACKGROUND: ContextVar[bool] = ContextVar("propellerads_in_background", default=False)


@dataclass
class RateLimit:
    limit: int | None
    remaining: int | None
    reset_at: float | None


@dataclass(frozen=True)
class ClientOptions:
    timeout: float = 15.0
    attempts: int = 4
    """How many times one call is tried in all (first try included) on 5xx, network faults and 429."""
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    max_rate_limit_wait: float = 90.0
    """The longest wait for a rate-limit window to reset; a later reset fails at once."""


class PropellerAdsClient:
    """One account's view of PropellerAds. Use as `async with PropellerAdsClient(token) as api:`."""

    def __init__(
        self,
        token: str,
        base_url: str = LIVE_BASE_URL,
        *,
        options: ClientOptions | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        on_rate_limit_wait: Callable[[str, float], None] | None = None,
    ) -> None:
        """`on_rate_limit_wait(endpoint, seconds)` hears of every wait for a rate-limit window, so a
        person at a terminal is not left looking at a silent minute."""
        if not token:
            raise ValueError("a PropellerAds API token is required")
        self.options = options or ClientOptions()
        self._sleep = sleep
        self._clock = clock
        self._on_rate_limit_wait = on_rate_limit_wait
        # The token as it may come back in a body: as sent, and JSON-escaped ("/" as "\/" on the live API).
        escaped = jsonlib.dumps(token)[1:-1]
        self._token_forms = sorted({token, escaped, escaped.replace("/", "\\/")}, key=len, reverse=True)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(self.options.timeout),
            transport=transport,
        )
        self.calls: Counter[str] = Counter()
        """Requests sent, by endpoint ("GET /adv/balance"), retries included."""
        self.rate_limits: dict[str, RateLimit] = {}
        self._foreground: Counter[str] = Counter()
        """Foreground requests under way (sent or waiting for their window), by rate-limit key."""
        self._foreground_done: dict[str, asyncio.Event] = {}

    @contextmanager
    def background(self) -> Iterator[None]:
        """Requests made inside (in this task) give way: each waits while foreground work uses its rate limit, and
        leaves the last call of every window to the foreground, so a check or a command never waits for it."""
        token = _IN_BACKGROUND.set(True)
        try:
            yield
        finally:
            _IN_BACKGROUND.reset(token)

    async def __aenter__(self) -> "PropellerAdsClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- reads ---------------------------------------------------------------------------

    async def balance(self) -> Decimal:
        body = await self._request("GET", "adv/balance")
        try:
            return to_decimal(body)
        except ValueError:
            raise MalformedResponseError("GET /adv/balance", f"expected an amount, got {one_line(self._redacted(body))}") from None

    async def campaigns(
        self,
        *,
        statuses: Iterable[int] | None = None,
        archived: bool | None = None,
        page_size: int = CAMPAIGN_PAGE_SIZE,
        unreadable: list[UnreadableItem] | None = None,
    ) -> list[Campaign]:
        """Every campaign, page after page (the API ignores limit/offset).

        The pages announced by `meta.total_pages` are followed whatever size the server grants. A
        campaign whose figures cannot be read is left out, and added to `unreadable` when given.
        """
        params: dict[str, Any] = {"page_size": page_size}
        if statuses:
            params["status[]"] = list(statuses)
        if archived is not None:
            params["is_archived"] = int(archived)
        found: list[Campaign] = []
        page = 1
        while True:
            body = await self._request("GET", "adv/campaigns", params={**params, "page": page})
            result = self._parse(CampaignPage, body, "GET /adv/campaigns")
            found.extend(result.result)
            self._set_aside(result.unreadable, unreadable)
            if page >= result.meta.total_pages or not result.result:
                return found
            page += 1

    async def campaign(self, campaign_id: int) -> Campaign:
        body = await self._request("GET", f"adv/campaigns/{int(campaign_id)}")
        return self._parse(Campaign, body, f"GET /adv/campaigns/{campaign_id}")

    async def statistics(
        self,
        day_from: date,
        day_to: date,
        *,
        group_by: Iterable[str] = ("campaign_id",),
        campaign_ids: Iterable[int] | None = None,
        ad_day: AdDay = UTC_DAY,
        unreadable: list[UnreadableItem] | None = None,
    ) -> list[StatisticsRow]:
        """Statistics rows for the ad days day_from..day_to, every page, grouped.

        Every query carries `tz`, so days are cut where the ad account cuts them; the API takes `tz`
        only on a week at most, so a longer range is read a week at a time and the rows merged. A
        row whose figures cannot be read is left out, and added to `unreadable` when given.
        """
        group_by = tuple(group_by)
        ids = sorted({int(i) for i in campaign_ids}) if campaign_ids is not None else []
        rows: list[StatisticsRow] = []
        for chunk_from, chunk_to, tz in tz_chunks(day_from, day_to, ad_day):
            rows.extend(await self._statistics_pages(chunk_from, chunk_to, tz, group_by, ids, unreadable))
        return merge_rows(rows, group_by)

    async def _statistics_pages(
        self, day_from: date, day_to: date, tz: str, group_by: tuple[str, ...], ids: list[int],
        unreadable: list[UnreadableItem] | None,
    ) -> list[StatisticsRow]:
        query: dict[str, Any] = {
            "day_from": datetime.combine(day_from, dtime.min).strftime(STATS_TIME_FORMAT),
            "day_to": datetime.combine(day_to, dtime(23, 59, 59)).strftime(STATS_TIME_FORMAT),
            "group_by[]": list(group_by),
            "tz": tz,
        }
        if ids:
            query["campaign_id[]"] = ids
        use_post = len(ids) > MAX_QUERY_CAMPAIGN_IDS
        rows: list[StatisticsRow] = []
        page = 1
        while True:
            if use_post:
                json_body = {k.removesuffix("[]"): v for k, v in query.items()} | {"page": page}
                body = await self._request("POST", "adv/statistics", json=json_body)
            else:
                body = await self._request("GET", "adv/statistics", params={**query, "page": page})
            result = self._parse(StatisticsPage, body, f"{'POST' if use_post else 'GET'} /adv/statistics")
            rows.extend(result.items)
            self._set_aside(result.unreadable, unreadable)
            if page >= result.total_pages or not result.items:
                return rows
            page += 1

    # --- writes --------------------------------------------------------------------------

    async def set_daily_budget(self, campaign_id: int, amount: Decimal | None) -> None:
        """Sets a campaign's daily budget (None removes the limit). Rounded to cents."""
        value = None if amount is None else float(cents(amount))
        await self._request(
            "PATCH", f"adv/campaigns/{int(campaign_id)}", json={"limit_daily_amount": value}, key="patch"
        )

    async def start_campaigns(self, campaign_ids: Iterable[int]) -> None:
        await self._request("PUT", "adv/campaigns/play", json={"campaign_ids": [int(i) for i in campaign_ids]})

    async def stop_campaigns(self, campaign_ids: Iterable[int]) -> None:
        await self._request("PUT", "adv/campaigns/stop", json={"campaign_ids": [int(i) for i in campaign_ids]})

    # --- the one place requests are sent ---------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        key: str | None = None,
    ) -> Any:
        endpoint = f"{method} /{_route(path)}"
        limit_key = key or _template(path)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.options.attempts),
            retry=retry_if_exception(self._is_retryable),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        background = _IN_BACKGROUND.get()
        if not background:
            self._foreground[limit_key] += 1
            self._foreground_done.setdefault(limit_key, asyncio.Event()).clear()
        try:
            async for attempt in retrying:
                with attempt:
                    if background:
                        await self._give_way(limit_key)
                    await self._respect_known_limit(limit_key)
                    return await self._send_once(method, path, endpoint, limit_key, params=params, json=json)
        finally:
            if not background:
                self._foreground[limit_key] -= 1
                if not self._foreground[limit_key]:
                    self._foreground_done[limit_key].set()
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _give_way(self, limit_key: str) -> None:
        """Holds a background request until no foreground request uses its limit and its window has more than the
        reserved calls left (else until the window resets)."""
        while True:
            while self._foreground[limit_key]:
                await self._foreground_done[limit_key].wait()
            known = self.rate_limits.get(limit_key)
            if not known or known.remaining is None or known.reset_at is None or known.remaining > RESERVED_CALLS:
                return
            delay = known.reset_at - self._clock() + 1.0
            if delay <= 0:
                return
            log.debug("background request waits %.0f s for a fresh window of %s", delay, limit_key)
            known.remaining = None
            await self._sleep(delay)

    async def _send_once(
        self, method: str, path: str, endpoint: str, limit_key: str, *, params: Any, json: Any
    ) -> Any:
        self.calls[f"{method} /{_template(path)}"] += 1
        try:
            response = await self._http.request(method, path, params=params, json=json)
        except httpx.TimeoutException:
            raise TransportError(endpoint, f"no answer within {self.options.timeout:g} s") from None
        except httpx.TransportError as exc:
            raise TransportError(endpoint, _describe_transport(exc)) from None
        self._remember_limit(limit_key, response)
        # The body is parsed as it came; only what goes into an error message is redacted, since some
        # servers and proxies echo request headers back (redacting first broke parsing under a short token).
        if response.status_code < 300:
            try:
                return jsonlib.loads(response.text)
            except ValueError:
                raise MalformedResponseError(
                    endpoint, f"the body is not JSON: {one_line(self._redacted(response.text))}", status=response.status_code
                ) from None
        raise self._error_for(endpoint, limit_key, response)

    def _redacted(self, value: Any) -> Any:
        """The value with every form of the token replaced, strings inside JSON included."""
        if isinstance(value, str):
            for form in self._token_forms:
                value = value.replace(form, "[redacted]")
            return value
        if isinstance(value, dict):
            return {self._redacted(k): self._redacted(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._redacted(item) for item in value]
        return value

    def _error_for(self, endpoint: str, limit_key: str, response: httpx.Response) -> PropellerAdsError:
        status = response.status_code
        body = self._redacted(_json_or_text(response.text))
        if status == 429:
            known = self.rate_limits.get(limit_key)
            message = body if isinstance(body, str) and body else "You exceeded the rate limit"
            return RateLimitedError(endpoint, one_line(message), reset_at=known.reset_at if known else None)
        if status == 400:
            fields = flatten_fields(body) if isinstance(body, (dict, list)) else {"request": [one_line(str(body))]}
            return ValidationError(endpoint, fields)
        detail = _api_words(body) or response.reason_phrase or "no details"
        if status == 401:
            return AuthenticationError(endpoint, detail, status=status)
        if status == 403:
            return PermissionDeniedError(endpoint, detail, status=status)
        if status == 404:
            return NotFoundError(endpoint, detail, status=status)
        if status >= 500:
            return ServerError(endpoint, detail, status=status)
        return PropellerAdsError(endpoint, detail, status=status)

    def _is_retryable(self, exc: BaseException) -> bool:
        if isinstance(exc, (ServerError, TransportError)):
            return True
        if isinstance(exc, RateLimitedError):
            return self._rate_limit_wait(exc) <= self.options.max_rate_limit_wait
        return False

    def _rate_limit_wait(self, exc: RateLimitedError) -> float:
        if exc.reset_at is None:
            return min(60.0, self.options.max_rate_limit_wait)
        # One second past the reset: the window boundary is inclusive on some servers.
        return max(0.0, exc.reset_at - self._clock()) + 1.0

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError):
            delay = self._rate_limit_wait(exc)
            self._announce_wait(exc.endpoint, delay)
            return delay
        backoff = self.options.backoff_initial * (2 ** (state.attempt_number - 1))
        return min(backoff, self.options.backoff_max)

    async def _respect_known_limit(self, limit_key: str) -> None:
        """Waits out a window already known to be spent instead of provoking a 429."""
        known = self.rate_limits.get(limit_key)
        if not known or known.remaining is None or known.remaining > 0 or known.reset_at is None:
            return
        delay = known.reset_at - self._clock() + 1.0
        if 0 < delay <= self.options.max_rate_limit_wait:
            self._announce_wait(limit_key, delay)
            known.remaining = None
            await self._sleep(delay)

    def _announce_wait(self, endpoint: str, seconds: float) -> None:
        log.info("waiting %.0f s for the rate limit of %s", seconds, endpoint)
        if self._on_rate_limit_wait is not None:
            self._on_rate_limit_wait(endpoint, seconds)

    def _remember_limit(self, limit_key: str, response: httpx.Response) -> None:
        if "X-RateLimit-Limit" not in response.headers:
            return
        self.rate_limits[limit_key] = RateLimit(
            limit=_header_int(response, "X-RateLimit-Limit"),
            remaining=_header_int(response, "X-RateLimit-Remaining"),
            reset_at=_header_float(response, "X-RateLimit-Reset"),
        )

    @staticmethod
    def _set_aside(found: list[UnreadableItem], into: list[UnreadableItem] | None) -> None:
        for item in found:
            log.warning("left out a %s PropellerAds sent (campaign %s): %s", item.what, item.campaign_id, item.reason)
        if into is not None:
            into.extend(found)

    def _parse(self, model: type[M], body: Any, endpoint: str) -> M:
        try:
            return model.model_validate(body)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "body"
            raise MalformedResponseError(endpoint, self._redacted(f"unexpected answer at {where}: {first.get('msg')}")) from None


def tz_chunks(day_from: date, day_to: date, ad_day: AdDay) -> list[tuple[date, date, str]]:
    """Splits a range of ad days into queries that may carry `tz`: a week at most, one offset each.

    An IANA zone changes offset with daylight saving; a chunk never spans the change.
    """
    if day_to < day_from:
        raise ValueError(f"day_to {day_to} is before day_from {day_from}")
    chunks: list[tuple[date, date, str]] = []
    start = day_from
    while start <= day_to:
        tz = ad_day.api_tz(start)
        end = start
        while end < day_to and (end - start).days < MAX_TZ_SPAN_DAYS and ad_day.api_tz(end + timedelta(days=1)) == tz:
            end += timedelta(days=1)
        chunks.append((start, end, tz))
        start = end + timedelta(days=1)
    return chunks


def merge_rows(rows: list[StatisticsRow], group_by: tuple[str, ...]) -> list[StatisticsRow]:
    """One row per campaign (and day) out of rows read in several chunks: counts added, the latest name kept."""
    if not set(group_by) <= MERGEABLE_GROUPINGS:
        return rows
    merged: dict[tuple[int | None, date | None], StatisticsRow] = {}
    for row in rows:
        key = (row.campaign_id, row.day)
        seen = merged.get(key)
        merged[key] = row if seen is None else row.model_copy(
            update={
                "spent": seen.spent + row.spent,
                "impressions": seen.impressions + row.impressions,
                "clicks": seen.clicks + row.clicks,
                "conversions": seen.conversions + row.conversions,
            }
        )
    return list(merged.values())


def _route(path: str) -> str:
    return path.strip("/").split("?")[0]


def _template(path: str) -> str:
    """"adv/campaigns/123" -> "adv/campaigns/{id}", so call counts group by endpoint."""
    return "/".join("{id}" if part.isdigit() else part for part in _route(path).split("/"))


def _json_or_text(text: str) -> Any:
    try:
        return jsonlib.loads(text)
    except ValueError:
        return text.strip()


def _api_words(body: Any) -> str:
    """The API's own message out of its error shapes: {"errors": [...]}, a bare string, a field map."""
    if isinstance(body, str):
        if body.lstrip().startswith("<"):  # a proxy's HTML page (502/503/504): its title, or the status's reason
            title = re.search(r"<title[^>]*>(.*?)</title>", body, re.IGNORECASE | re.DOTALL)
            return one_line(title.group(1)) if title else ""
        return one_line(body)
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return one_line(" ".join(str(e) for e in errors))
        if isinstance(body.get("message"), str):
            return one_line(body["message"])
        flat = flatten_fields(body)
        return one_line("; ".join(f"{k}: {' '.join(v)}" for k, v in flat.items()))
    if isinstance(body, list):
        return one_line(" ".join(str(e) for e in body))
    return ""


def _describe_transport(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or host unreachable"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return "the connection was dropped before an answer"
    return type(exc).__name__


def _header_int(response: httpx.Response, name: str) -> int | None:
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return None


def _header_float(response: httpx.Response, name: str) -> float | None:
    try:
        return float(response.headers[name])
    except (KeyError, ValueError):
        return None


