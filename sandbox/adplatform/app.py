"""The aiohttp app that answers like PropellerAds SSP API v5 under /v5, with admin routes under /_sandbox."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.adplatform.account import Account
from sandbox.adplatform.clock import Clock, SpeedClock, utc_now
from sandbox.adplatform.faults import ForcedAnswer, Faults
from sandbox.adplatform.model import STATUSES, STOPPED, WORKING, money
from sandbox.adplatform.ratelimit import DEFAULT_RATE_LIMITS, RateLimit, RateLimiter, Verdict
from sandbox.adplatform.report import NOT_A_CHOICE, FieldErrors, build_report, parse_query
from sandbox.adplatform.requestlog import LoggedRequest, RequestLog
from sandbox.serving import BackgroundServer

DEFAULT_TOKEN = "sandbox-token"
DEFAULT_PAGE_SIZE = 100
API_PREFIX = "/v5"
ADMIN_PREFIX = "/_sandbox"
JSON_TYPE = "application/json"
# The recorded 429 came as text/html, not JSON.
HTML_TYPE = "text/html; charset=UTF-8"
RATE_LIMITED = "You exceeded the rate limit"
NAME_MAX = 255

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class SandboxConfig:
    """Platform rules that tests may change. `rate_limits` is laid over DEFAULT_RATE_LIMITS (None lifts one)."""

    rate_limits: Mapping[str, RateLimit | int | None] = field(default_factory=dict)
    rate_clock: Callable[[], float] = time.time
    """Unix seconds for rate-limit windows: real time unless a test injects e.g. ManualClock.timestamp."""
    min_daily_budget: Decimal = Decimal(10)
    max_daily_budget: Decimal = Decimal(10_000)
    tz_max_days: int = 7
    """Largest gap in days between day_from and day_to for which `tz` is accepted."""
    fault_seed: int = 0
    state_file: Path | None = None
    """Where the account is saved after every change, if anywhere."""


@dataclass
class Sandbox:
    """Everything one running sandbox holds; reachable as `app[SANDBOX_KEY]`."""

    account: Account
    token: str
    config: SandboxConfig
    clock: Clock
    faults: Faults
    requests: RequestLog
    limiter: RateLimiter
    endpoints: dict[Any, str] = field(default_factory=dict)
    """Route object → endpoint name, for rate limits, faults and the request log."""
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    """Set on shutdown, so answers held back by added latency do not hold the shutdown up."""

    def now(self) -> datetime:
        return self.clock()

    def changed(self) -> None:
        """Saves the account when a state file is configured."""
        if self.config.state_file is not None:
            self.account.save(self.config.state_file, saved_at=self.now().isoformat())


SANDBOX_KEY = web.AppKey("sandbox", Sandbox)


# --- answers -------------------------------------------------------------------------------------


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    # Compact like the live API, and exactly "application/json" (aiohttp would add a charset).
    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(status=status, body=body, headers={"Content-Type": JSON_TYPE, **(headers or {})})


def _errors(*messages: str, status: int) -> web.Response:
    return _json({"errors": list(messages)}, status=status)


def _field_errors(errors: Mapping[str, Any]) -> web.Response:
    return _json(dict(errors), status=400)


def _rate_limited(headers: Mapping[str, str]) -> web.Response:
    return web.Response(status=429, body=RATE_LIMITED.encode(), headers={"Content-Type": HTML_TYPE, **headers})


def _standard_error(status: int) -> web.Response:
    """The body a forced or random failure answers with: the recorded shapes where there is a recording."""
    if status == 429:
        return _rate_limited({})
    if status == 401:
        return _errors("Unauthorized.", status=401)
    if status == 403:
        return _errors("Access denied.", status=403)
    if status in (502, 503, 504):
        # What a proxy in front of the API sends: HTML, not JSON.
        title = f"{status} {web.Response(status=status).reason}"
        page = f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center><hr><center>nginx</center></body></html>"
        return web.Response(status=status, body=page.encode(), headers={"Content-Type": "text/html"})
    if status >= 500:
        return _errors("Internal server error.", status=status)
    return _errors(web.Response(status=status).reason, status=status)


def _malformed(response: web.StreamResponse) -> web.Response:
    """200 with the real body cut in half: valid JSON always ends in its last character, so this never parses."""
    body = response.body if isinstance(response, web.Response) and isinstance(response.body, bytes) else b"{}"
    headers = {k: v for k, v in response.headers.items() if k.lower().startswith("x-ratelimit")}
    return web.Response(status=200, body=body[: len(body) // 2], headers={"Content-Type": JSON_TYPE, **headers})


def _drop(request: web.Request) -> web.Response:
    """Closes the socket without a byte of answer; the response returned is never sent."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=499)


def _forced(
    request: web.Request, forced: ForcedAnswer, real: web.StreamResponse | None, rule: RateLimit | None
) -> web.Response:
    if forced.drop:
        return _drop(request)
    if forced.malformed and real is not None:
        return _malformed(real)
    if forced.body is not None:
        return web.Response(
            status=forced.status, body=forced.body.encode(), headers={"Content-Type": forced.content_type or JSON_TYPE}
        )
    response = _standard_error(forced.status)
    if forced.status == 429 and rule is not None:
        # A forced 429 tells when to come back, like a real one, so clients can be tested on waiting.
        now = request.app[SANDBOX_KEY].config.rate_clock()
        response.headers.update(Verdict(False, rule.limit, 0, math.ceil(now + rule.window)).headers)
    return response


def _no_route(request: web.Request, exc: web.HTTPException) -> web.Response:
    # Symfony's words, as recorded: a JSON string naming the method and the URL without its query.
    url = request.url.with_query(None)
    message = f'No route found for "{request.method} {url}"'
    if isinstance(exc, web.HTTPMethodNotAllowed):
        message += f": Method Not Allowed (Allow: {', '.join(sorted(exc.allowed_methods))})"
    return _json(message, status=exc.status)


# --- request parsing ----------------------------------------------------------------------------------


def _query_lists(request: web.Request) -> dict[str, list[str]]:
    """Query values by name, with PHP-style `name[]` and `name[0]` folded into `name`."""
    params: dict[str, list[str]] = {}
    for key, value in request.query.items():
        params.setdefault(key.split("[", 1)[0], []).append(value)
    return params


async def _json_object(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _positive_int(params: Mapping[str, list[str]], name: str, default: int, errors: dict[str, list[str]]) -> int:
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


def _amount(value: Any) -> Decimal | None:
    """A JSON number or numeric string as Decimal; None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        amount = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


# --- API handlers -------------------------------------------------------------------------------------


async def balance(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    return _json(f"{sandbox.account.balance_at(sandbox.now()):.2f}")


async def list_campaigns(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    params = _query_lists(request)
    errors: dict[str, list[str]] = {}
    # limit/offset are ignored, as on the live API.
    page = _positive_int(params, "page", 1, errors)
    page_size = _positive_int(params, "page_size", DEFAULT_PAGE_SIZE, errors)
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
        return _field_errors(errors)
    found = sandbox.account.list_campaigns(statuses or None, archived)
    first = (page - 1) * page_size
    return _json(
        {
            "result": [c.to_api() for c in found[first : first + page_size]],
            "meta": {
                "total_items": len(found),
                "total_pages": math.ceil(len(found) / page_size),
                "page_size": page_size,
                "page": page,
            },
        }
    )


async def get_campaign(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    campaign = sandbox.account.campaigns.get(int(request.match_info["campaign_id"]))
    if campaign is None:
        return _errors("Campaign not found.", status=404)
    return _json(campaign.to_api(detail=True))


async def update_campaign(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    if sandbox.faults.forbid_writes:
        return _errors("Access denied.", status=403)
    campaign_id = int(request.match_info["campaign_id"])
    if campaign_id not in sandbox.account.campaigns:
        return _errors("Campaign not found.", status=404)
    body = await _json_object(request)
    if body is None:
        return _errors("The request body must be a JSON object.", status=400)
    changes, errors = _validate_changes(body, sandbox.config)
    if errors:
        return _field_errors(errors)
    campaign = sandbox.account.update(campaign_id, sandbox.now(), **changes)
    sandbox.changed()
    return _json(campaign.to_api(detail=True))


def _validate_changes(body: Mapping[str, Any], config: SandboxConfig) -> tuple[dict[str, Any], dict[str, list[str]]]:
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
            amount = _amount(value)
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


def _set_status(status: int) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        sandbox = request.app[SANDBOX_KEY]
        if sandbox.faults.forbid_writes:
            return _errors("Access denied.", status=403)
        body = await _json_object(request)
        ids = None if body is None else body.get("campaign_ids")
        if not isinstance(ids, list) or not ids:
            return _field_errors({"campaign_ids": ["This value should not be blank."]})
        if any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
            return _field_errors({"campaign_ids": ["This value should be of type integer."]})
        if any(i not in sandbox.account.campaigns for i in ids):
            return _errors("Campaign not found.", status=404)
        sandbox.account.set_status(ids, status, sandbox.now())
        sandbox.changed()
        return _json({"result": True})

    return handler


async def statistics(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    if request.method == "POST":
        body = await _json_object(request)
        if body is None:
            return _errors("The request body must be a JSON object.", status=400)
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
        return _field_errors(exc.errors)
    return _json(build_report(sandbox.account, query, sandbox.now()))


API_ROUTES: tuple[tuple[str, str, Handler, str], ...] = (
    ("GET", "/adv/balance", balance, "balance"),
    ("GET", "/adv/campaigns", list_campaigns, "campaigns"),
    ("PUT", "/adv/campaigns/play", _set_status(WORKING), "campaigns_play"),
    ("PUT", "/adv/campaigns/stop", _set_status(STOPPED), "campaigns_stop"),
    ("GET", r"/adv/campaigns/{campaign_id:\d+}", get_campaign, "campaign"),
    ("PATCH", r"/adv/campaigns/{campaign_id:\d+}", update_campaign, "campaign_update"),
    ("GET", "/adv/statistics", statistics, "statistics"),
    ("POST", "/adv/statistics", statistics, "statistics"),
)


# --- the API's middleware: log, faults, auth, rate limits ----------------------------------------------


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(ADMIN_PREFIX):
        return await handler(request)
    sandbox = request.app[SANDBOX_KEY]
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


async def _logged_body(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    text = await request.text()
    try:
        return json.loads(text)
    except ValueError:
        return text


async def _answer(request: web.Request, handler: Handler, sandbox: Sandbox, endpoint: str | None) -> web.StreamResponse:
    if endpoint is None:
        exc = request.match_info.http_exception
        return _no_route(request, exc if exc is not None else web.HTTPNotFound())
    faults = sandbox.faults
    delay = faults.latency_for(endpoint)
    if delay > 0:
        try:
            await asyncio.wait_for(sandbox.closing.wait(), timeout=delay)
        except TimeoutError:
            pass
    rule = sandbox.limiter.limits.get(endpoint)
    forced = faults.take_forced(request.method, request.path)
    if forced is not None and not forced.runs_handler:
        return _forced(request, forced, None, rule)
    failure = faults.random_error()
    if failure is not None:
        return _standard_error(failure)
    if endpoint in faults.drop:
        return _drop(request)
    if request.headers.get("Authorization") != f"Bearer {sandbox.token}":
        return _errors("Unauthorized.", status=401)
    verdict = sandbox.limiter.hit(endpoint)
    if verdict is not None and not verdict.allowed:
        return _rate_limited(verdict.headers)
    response = await handler(request)
    if verdict is not None:
        response.headers.update(verdict.headers)
    if forced is not None:
        return _forced(request, forced, response, rule)
    if endpoint in faults.malformed and response.status < 300:
        return _malformed(response)
    return response


# --- admin routes (no token, no rate limit, not logged) ------------------------------------------------


async def admin_get_faults(request: web.Request) -> web.Response:
    return _json(request.app[SANDBOX_KEY].faults.to_json())


async def admin_set_faults(request: web.Request) -> web.Response:
    faults = request.app[SANDBOX_KEY].faults
    body = await _json_object(request)
    if body is None:
        return _errors("The request body must be a JSON object.", status=400)
    try:
        faults.update(body)
    except (TypeError, ValueError, KeyError) as exc:
        return _errors(str(exc), status=400)
    return _json(faults.to_json())


async def admin_clear_faults(request: web.Request) -> web.Response:
    faults = request.app[SANDBOX_KEY].faults
    faults.clear()
    return _json(faults.to_json())


async def admin_requests(request: web.Request) -> web.Response:
    log = request.app[SANDBOX_KEY].requests
    found = log.entries(
        method=request.query.get("method"), path=request.query.get("path"), endpoint=request.query.get("endpoint")
    )
    return _json({"requests": [e.to_json() for e in found], "count": len(found)})


async def admin_reset_log(request: web.Request) -> web.Response:
    request.app[SANDBOX_KEY].requests.clear()
    return _json({"result": True})


async def admin_campaign(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    campaign_id = int(request.match_info["campaign_id"])
    campaign = sandbox.account.campaigns.get(campaign_id)
    if campaign is None:
        return _errors("Campaign not found.", status=404)
    now = sandbox.now()
    today = sandbox.account.day_stats(campaign_id, now.date(), now)
    return _json(
        campaign.to_state()
        | {
            "spent_today": str(today.spent) if today else "0.000",
            "history": [
                {"since": s.since.isoformat(), "status": s.status, "limit_daily_amount": None if s.limit is None else str(s.limit)}
                for s in sandbox.account.settings_history(campaign_id)
            ],
        }
    )


async def admin_set_balance(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    body = await _json_object(request)
    amount = None if body is None else _amount(body.get("balance"))
    if amount is None:
        return _field_errors({"balance": ["This value should be of type numeric."]})
    sandbox.account.set_balance(amount, sandbox.now())
    sandbox.changed()
    return _json({"balance": f"{sandbox.account.balance_at(sandbox.now()):.2f}"})


async def admin_clock(request: web.Request) -> web.Response:
    return _json({"now": request.app[SANDBOX_KEY].now().isoformat()})


async def admin_rate_limits(request: web.Request) -> web.Response:
    limiter = request.app[SANDBOX_KEY].limiter
    if request.method == "POST":
        body = await _json_object(request)
        if body is None:
            return _errors("The request body must be a JSON object.", status=400)
        try:
            limiter.configure({k: _rate_limit(v) for k, v in body.items()})
        except (TypeError, ValueError) as exc:
            return _errors(str(exc), status=400)
    return _json(limiter.to_json())


def _rate_limit(value: Any) -> RateLimit | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return RateLimit(int(value["limit"]), float(value.get("window", 60)))
    return RateLimit(int(value))


ADMIN_ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/faults", admin_get_faults),
    ("POST", "/faults", admin_set_faults),
    ("DELETE", "/faults", admin_clear_faults),
    ("GET", "/requests", admin_requests),
    ("POST", "/reset-log", admin_reset_log),
    ("GET", r"/campaigns/{campaign_id:\d+}", admin_campaign),
    ("POST", "/balance", admin_set_balance),
    ("GET", "/clock", admin_clock),
    ("GET", "/rate-limits", admin_rate_limits),
    ("POST", "/rate-limits", admin_rate_limits),
)


# --- entry points ---------------------------------------------------------------------------------------


def create_app(
    account: Account, *, token: str, config: SandboxConfig | None = None, clock: Clock | None = None
) -> web.Application:
    """The sandbox as an aiohttp app; its state is `app[SANDBOX_KEY]`."""
    if not token:
        raise ValueError("the sandbox needs a token to expect")
    config = config or SandboxConfig()
    sandbox = Sandbox(
        account=account,
        token=token,
        config=config,
        clock=clock or utc_now,
        faults=Faults(seed=config.fault_seed),
        requests=RequestLog(),
        limiter=RateLimiter({**DEFAULT_RATE_LIMITS, **config.rate_limits}, clock=config.rate_clock),
    )
    app = web.Application(middlewares=[api_middleware])
    app[SANDBOX_KEY] = sandbox
    for method, path, handler, endpoint in API_ROUTES:
        route = app.router.add_route(method, API_PREFIX + path, handler)
        sandbox.endpoints[route] = endpoint
    for method, path, handler in ADMIN_ROUTES:
        app.router.add_route(method, ADMIN_PREFIX + path, handler)

    async def stop_waiting(_: web.Application) -> None:
        sandbox.closing.set()

    app.on_shutdown.append(stop_waiting)
    return app


def start_sandbox(
    account: Account | None = None,
    *,
    token: str = DEFAULT_TOKEN,
    config: SandboxConfig | None = None,
    clock: Clock | None = None,
    campaigns: int = 30,
    seed: int = 7,
    port: int = 0,
) -> BackgroundServer:
    """A running sandbox on 127.0.0.1 (a seeded account unless one is given); the API is at `server.url + "/v5"`."""
    if account is None:
        account = Account.seeded(campaigns, seed, now=(clock or utc_now)())
    app = create_app(account, token=token, config=config, clock=clock)
    return BackgroundServer(app, port=port).start()


def serve(
    host: str = "127.0.0.1",
    port: int = 8081,
    token: str = DEFAULT_TOKEN,
    campaigns: int = 30,
    seed: int = 7,
    state_file: str | Path | None = None,
    speed: float = 1.0,
    *,
    config: SandboxConfig | None = None,
) -> None:
    """Runs the sandbox until interrupted (Ctrl-C). With `state_file` the account is loaded from it if it exists,
    else seeded and written there, and saved after every change; `speed` 60 makes a real second a sandbox minute."""
    path = Path(state_file) if state_file else None
    origin = utc_now()
    account = None
    if path is not None and path.exists():
        state = json.loads(path.read_text(encoding="utf-8"))
        account = Account.from_state(state)
        if state.get("saved_at"):
            # A sped-up run may have lived ahead of real time; carry on from where it stopped.
            origin = max(origin, datetime.fromisoformat(state["saved_at"]))
    clock = SpeedClock(speed, origin)
    if account is None:
        account = Account.seeded(campaigns, seed, now=clock())
    app = create_app(account, token=token, config=replace(config or SandboxConfig(), state_file=path), clock=clock)
    sandbox = app[SANDBOX_KEY]
    sandbox.changed()

    async def save_on_exit(_: web.Application) -> None:
        sandbox.changed()

    app.on_cleanup.append(save_on_exit)
    banner = (
        f"PropellerAds sandbox on http://{host}:{port}{API_PREFIX} (token {token!r}, {len(account.campaigns)} campaigns"
        f"{f', {speed:g}x time' if speed != 1 else ''}); admin at {ADMIN_PREFIX}/. Ctrl-C stops it."
    )
    web.run_app(app, host=host, port=port, access_log=None, print=lambda *_: print(banner, flush=True))
