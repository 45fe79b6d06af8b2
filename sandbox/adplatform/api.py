"""The API under /v5: handlers for the recorded endpoints and the middleware that logs, faults, authenticates and limits.

Where no recording says how the live API answers, the sandbox chooses:
- `PUT /adv/campaigns/play` and `/stop` take `{"campaign_ids": [..]}` and answer `{"result": true}`; play
  sets status 6 (working), stop status 8 (stopped). A body that is not an object with a non-empty list of
  integers is a 400 keyed by `campaign_ids`; an unknown id is a 404 `{"errors": ["Campaign not found."]}`.
  A draft, a campaign in moderation, a rejected one or a completed one cannot be played, and a completed one
  cannot be stopped: a 400 keyed by `campaign_ids` naming the first. Either way nothing changes: a request
  is applied to all its campaigns or to none.
- A campaign the platform paces (a CPC push campaign "out of daily impression limit") shows status 7
  while it lasts, whatever its own status 6 says; play cannot lift that pause.
- Campaign pages are granted up to `max_page_size` (1000); `meta.page_size` says what was granted.
- Statistics cut days at `tz` when given (only on a week at most, as recorded), else at the platform's
  own midnight, EST.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from sandbox.adplatform import answers
from sandbox.adplatform.faults import ForcedAnswer
from sandbox.adplatform.model import COMPLETED, DRAFT, MODERATION, REJECTED, STATUSES, STOPPED, WORKING, money
from sandbox.adplatform.ratelimit import Verdict
from sandbox.adplatform.report import NOT_A_CHOICE, FieldErrors, build_report, parse_query
from sandbox.adplatform.requestlog import LoggedRequest
from sandbox.adplatform.state import PLATFORM_KEY, SERVING_KEY, Sandbox, SandboxConfig

API_PREFIX = "/v5"
ADMIN_PREFIX = "/_sandbox"
DEFAULT_PAGE_SIZE = 100
NAME_MAX = 255
# Statuses a campaign cannot be moved out of by play or stop.
CANNOT_PLAY = {DRAFT: "a draft", MODERATION: "in moderation", REJECTED: "rejected", COMPLETED: "completed"}
CANNOT_STOP = {COMPLETED: "completed"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- request parsing ----------------------------------------------------------------------------------


def _query_lists(request: web.Request) -> dict[str, list[str]]:
    """Query values by name, with PHP-style `name[]` and `name[0]` folded into `name`."""
    params: dict[str, list[str]] = {}
    for key, value in request.query.items():
        params.setdefault(key.split("[", 1)[0], []).append(value)
    return params


async def json_object(request: web.Request) -> dict[str, Any] | None:
    """The request body when it is a JSON object, else None."""
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _positive_int(
    params: Mapping[str, list[str]], name: str, default: int, errors: dict[str, list[str]]
) -> int:
    values = params.get(name)
    if not values or values[-1] == "":
        return default
    try:
        number = int(values[-1])
        if number >= 1:
            return number
    except ValueError:
        pass
    errors[name] = ["This value should be greater than 0."]
    return default


def parse_amount(value: Any) -> Decimal | None:
    """A JSON number or numeric string as Decimal; None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        amount = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


# --- handlers -----------------------------------------------------------------------------------------


async def balance(request: web.Request) -> web.Response:
    sandbox = request[SERVING_KEY]
    return answers.json_answer(f"{sandbox.account.balance_at(sandbox.now()):.2f}")


async def list_campaigns(request: web.Request) -> web.Response:
    sandbox = request[SERVING_KEY]
    params = _query_lists(request)
    errors: dict[str, list[str]] = {}
    # limit/offset are ignored, as on the live API.
    page = _positive_int(params, "page", 1, errors)
    # Public clients ask 1000 a page; how much more the live API grants is not recorded.
    page_size = min(_positive_int(params, "page_size", DEFAULT_PAGE_SIZE, errors), sandbox.config.max_page_size)
    statuses: set[int] = set()
    for value in params.get("status", []):
        if not value.isdigit() or int(value) not in STATUSES:
            errors["status"] = [NOT_A_CHOICE]
            break
        statuses.add(int(value))
    archived = None
    if params.get("is_archived"):
        flag = params["is_archived"][-1].lower()
        if flag in ("0", "false"):
            archived = False
        elif flag in ("1", "true"):
            archived = True
        else:
            errors["is_archived"] = [NOT_A_CHOICE]
    if errors:
        return answers.field_errors(errors)
    now = sandbox.now()
    found = sandbox.account.list_campaigns(statuses or None, archived, now)
    first = (page - 1) * page_size
    return answers.json_answer(
        {
            "result": [c.to_api(status=sandbox.account.status_at(c, now)) for c in found[first : first + page_size]],
            "meta": {
                "total_items": len(found),
                "total_pages": math.ceil(len(found) / page_size),
                "page_size": page_size,
                "page": page,
            },
        }
    )


async def get_campaign(request: web.Request) -> web.Response:
    sandbox = request[SERVING_KEY]
    campaign = sandbox.account.campaigns.get(int(request.match_info["campaign_id"]))
    if campaign is None:
        return answers.errors("Campaign not found.", status=404)
    return answers.json_answer(campaign.to_api(detail=True, status=sandbox.account.status_at(campaign, sandbox.now())))


async def update_campaign(request: web.Request) -> web.Response:
    sandbox = request[SERVING_KEY]
    if sandbox.faults.forbid_writes:
        return answers.errors("Access denied.", status=403)
    campaign_id = int(request.match_info["campaign_id"])
    if campaign_id not in sandbox.account.campaigns:
        return answers.errors("Campaign not found.", status=404)
    body = await json_object(request)
    if body is None:
        return answers.errors("The request body must be a JSON object.", status=400)
    changes, errors = _validate_changes(body, sandbox.config)
    if errors:
        return answers.field_errors(errors)
    now = sandbox.now()
    campaign = sandbox.account.update(campaign_id, now, **changes)
    sandbox.changed()
    return answers.json_answer(campaign.to_api(detail=True, status=sandbox.account.status_at(campaign, now)))


def _validate_changes(
    body: Mapping[str, Any], config: SandboxConfig
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The PATCH rules: only five fields, budgets numeric (daily within the platform range) or null."""
    changes: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in body.items():
        if name == "name":
            if not isinstance(value, str) or not value.strip():
                errors[name] = ["This value should not be blank."]
            elif len(value) > NAME_MAX:
                errors[name] = [f"This value is too long. It should have {NAME_MAX} characters or less."]
            else:
                changes[name] = value
        elif name in ("frequency", "capping"):
            if isinstance(value, bool) or not isinstance(value, int):
                errors[name] = ["This value should be of type integer."]
            elif value < 0:
                errors[name] = ["This value should be greater than or equal to 0."]
            else:
                changes[name] = value
        elif name in ("limit_daily_amount", "limit_total_amount"):
            if value is None:
                changes[name] = None
                continue
            amount = parse_amount(value)
            if amount is None:
                errors[name] = ["This value should be of type numeric."]
            elif name == "limit_daily_amount" and amount < config.min_daily_budget:
                errors[name] = [f"This value should be greater than or equal to {config.min_daily_budget}."]
            elif name == "limit_daily_amount" and amount > config.max_daily_budget:
                errors[name] = [f"This value should be less than or equal to {config.max_daily_budget}."]
            elif amount <= 0:
                errors[name] = ["This value should be greater than 0."]
            else:
                changes[name] = money(amount)
        else:
            errors[name] = ["This field was not expected."]
    return changes, errors


def _set_status(status: int, refused_from: Mapping[int, str]) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        sandbox = request[SERVING_KEY]
        if sandbox.faults.forbid_writes:
            return answers.errors("Access denied.", status=403)
        body = await json_object(request)
        ids = None if body is None else body.get("campaign_ids")
        if not isinstance(ids, list) or not ids:
            return answers.field_errors({"campaign_ids": ["This value should not be blank."]})
        if any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
            return answers.field_errors({"campaign_ids": ["This value should be of type integer."]})
        if any(i not in sandbox.account.campaigns for i in ids):
            return answers.errors("Campaign not found.", status=404)
        for campaign_id in ids:
            state = refused_from.get(sandbox.account.campaign(campaign_id).status)
            if state is not None:
                return answers.field_errors({"campaign_ids": [f"Campaign {campaign_id} is {state}."]})
        sandbox.account.set_status(ids, status, sandbox.now())
        sandbox.changed()
        return answers.json_answer({"result": True})

    return handler


async def statistics(request: web.Request) -> web.Response:
    sandbox = request[SERVING_KEY]
    if request.method == "POST":
        body = await json_object(request)
        if body is None:
            return answers.errors("The request body must be a JSON object.", status=400)
        params = {
            key.split("[", 1)[0]: list(value) if isinstance(value, list) else [value]
            for key, value in body.items()
            if value is not None
        }
    else:
        params = _query_lists(request)
    try:
        query = parse_query(params, tz_max_days=sandbox.config.tz_max_days)
    except FieldErrors as exc:
        return answers.field_errors(exc.errors)
    return answers.json_answer(build_report(sandbox.account, query, sandbox.now()))


API_ROUTES: tuple[tuple[str, str, Handler, str], ...] = (
    ("GET", "/adv/balance", balance, "balance"),
    ("GET", "/adv/campaigns", list_campaigns, "campaigns"),
    ("PUT", "/adv/campaigns/play", _set_status(WORKING, CANNOT_PLAY), "campaigns_play"),
    ("PUT", "/adv/campaigns/stop", _set_status(STOPPED, CANNOT_STOP), "campaigns_stop"),
    ("GET", r"/adv/campaigns/{campaign_id:\d+}", get_campaign, "campaign"),
    ("PATCH", r"/adv/campaigns/{campaign_id:\d+}", update_campaign, "campaign_update"),
    ("GET", "/adv/statistics", statistics, "statistics"),
    ("POST", "/adv/statistics", statistics, "statistics"),
)


# --- the API's middleware: log, faults, auth, rate limits ----------------------------------------------


def _forced(
    request: web.Request, forced: ForcedAnswer, real: web.StreamResponse | None, sandbox: Sandbox, endpoint: str
) -> web.Response:
    if forced.drop:
        return answers.drop(request)
    if forced.malformed and real is not None:
        return answers.malformed(real)
    if forced.body is not None:
        headers = {"Content-Type": forced.content_type or answers.JSON_TYPE}
        return web.Response(status=forced.status, body=forced.body.encode(), headers=headers)
    response = answers.standard_error(forced.status)
    rule = sandbox.limiter.limits.get(endpoint)
    if forced.status == 429 and rule is not None:
        # A forced 429 tells when to come back, like a real one, so clients can be tested on waiting.
        reset = math.ceil(sandbox.config.rate_clock() + rule.window)
        response.headers.update(Verdict(False, rule.limit, 0, reset).headers)
    return response


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    platform = request.app[PLATFORM_KEY]
    if request.path.startswith(ADMIN_PREFIX):
        return await _admin(request, handler)
    # A token no account has is answered as the first account's requests are, up to the refusal.
    sandbox = platform.by_authorization(request.headers.get("Authorization")) or platform.first
    request[SERVING_KEY] = sandbox
    endpoint = sandbox.endpoints.get(request.match_info.route)
    entry = sandbox.requests.add(
        LoggedRequest(
            method=request.method,
            path=request.path,
            query=request.query_string,
            endpoint=endpoint,
            at=sandbox.now(),
            body=await _logged_body(request),
        )
    )
    response = await _answer(request, handler, sandbox, endpoint)
    entry.status = None if request.transport is None or request.transport.is_closing() else response.status
    return response


async def _admin(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Admin routes act on the account whose token `?account=` names, the first one when it names none."""
    platform = request.app[PLATFORM_KEY]
    token = request.query.get("account")
    sandbox = platform.first if token is None else platform.by_token(token)
    if sandbox is None:
        return answers.errors("No sandbox account has that token.", status=404)
    request[SERVING_KEY] = sandbox
    return await handler(request)


async def _logged_body(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    text = await request.text()
    try:
        return json.loads(text)
    except ValueError:
        return text


async def _answer(
    request: web.Request, handler: Handler, sandbox: Sandbox, endpoint: str | None
) -> web.StreamResponse:
    """Route, then faults, then the token, then the rate limit, then the handler; broken bodies last."""
    if endpoint is None:
        exc = request.match_info.http_exception
        return answers.no_route(request, exc if exc is not None else web.HTTPNotFound())
    faults = sandbox.faults
    gate = faults.gates.get(endpoint)
    if gate is not None:
        if gate.first_only:
            faults.gates.pop(endpoint, None)
        gate.arrived.set()
        # Bounded: a gate never released lets the request through after a minute.
        for _ in range(6000):
            if gate.released.is_set() or sandbox.closing.is_set():
                break
            await asyncio.sleep(0.01)
    delay = faults.latency_for(endpoint)
    if delay > 0:
        try:
            await asyncio.wait_for(sandbox.closing.wait(), timeout=delay)
        except TimeoutError:
            pass
    forced = faults.take_forced(request.method, request.path)
    if forced is not None and not forced.runs_handler:
        return _forced(request, forced, None, sandbox, endpoint)
    failure = faults.random_error()
    if failure is not None:
        return answers.standard_error(failure)
    if endpoint in faults.drop:
        return answers.drop(request)
    if request.headers.get("Authorization") != f"Bearer {sandbox.token}":
        return answers.errors("Unauthorized.", status=401)
    verdict = sandbox.limiter.hit(endpoint)
    if verdict is not None and not verdict.allowed:
        return answers.rate_limited(verdict.headers)
    response = await handler(request)
    if verdict is not None:
        response.headers.update(verdict.headers)
    if forced is not None:
        return _forced(request, forced, response, sandbox, endpoint)
    if endpoint in faults.malformed and response.status < 300:
        return answers.malformed(response)
    return response
