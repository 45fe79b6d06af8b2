"""Admin routes under /_sandbox for tests and demos (no token, no rate limit, not logged): faults, log, state."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.adplatform import answers
from sandbox.adplatform.api import ADMIN_PREFIX, API_PREFIX, Handler, json_object, parse_amount
from sandbox.adplatform.ratelimit import RateLimit
from sandbox.adplatform.state import SANDBOX_KEY


async def admin_index(request: web.Request) -> web.Response:
    """What the banner's admin address offers: every admin route, and where the API is."""
    routes = [{"method": method, "path": ADMIN_PREFIX + path} for method, path, _ in ADMIN_ROUTES if path not in ("", "/")]
    return answers.json_answer({"api": API_PREFIX, "routes": routes})


async def admin_get_faults(request: web.Request) -> web.Response:
    return answers.json_answer(request.app[SANDBOX_KEY].faults.to_json())


async def admin_set_faults(request: web.Request) -> web.Response:
    faults = request.app[SANDBOX_KEY].faults
    body = await json_object(request)
    if body is None:
        return answers.errors("The request body must be a JSON object.", status=400)
    try:
        faults.update(body)
    except (TypeError, ValueError, KeyError) as exc:
        return answers.errors(str(exc), status=400)
    return answers.json_answer(faults.to_json())


async def admin_clear_faults(request: web.Request) -> web.Response:
    faults = request.app[SANDBOX_KEY].faults
    faults.clear()
    return answers.json_answer(faults.to_json())


async def admin_requests(request: web.Request) -> web.Response:
    log = request.app[SANDBOX_KEY].requests
    found = log.entries(
        method=request.query.get("method"), path=request.query.get("path"), endpoint=request.query.get("endpoint")
    )
    return answers.json_answer({"requests": [e.to_json() for e in found], "count": len(found)})


async def admin_reset_log(request: web.Request) -> web.Response:
    request.app[SANDBOX_KEY].requests.clear()
    return answers.json_answer({"result": True})


async def admin_campaign(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    campaign_id = int(request.match_info["campaign_id"])
    campaign = sandbox.account.campaigns.get(campaign_id)
    if campaign is None:
        return answers.errors("Campaign not found.", status=404)
    now = sandbox.now()
    today = sandbox.account.day_stats(campaign_id, now.date(), now)
    return answers.json_answer(
        campaign.to_state()
        | {
            "spent_today": str(today.spent) if today else "0.000",
            "history": [
                {
                    "since": s.since.isoformat(),
                    "status": s.status,
                    "limit_daily_amount": None if s.limit is None else str(s.limit),
                }
                for s in sandbox.account.settings_history(campaign_id)
            ],
        }
    )


async def admin_set_balance(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX_KEY]
    body = await json_object(request)
    amount = None if body is None else parse_amount(body.get("balance"))
    if amount is None:
        return answers.field_errors({"balance": ["This value should be of type numeric."]})
    sandbox.account.set_balance(amount, sandbox.now())
    sandbox.changed()
    return answers.json_answer({"balance": f"{sandbox.account.balance_at(sandbox.now()):.2f}"})


async def admin_clock(request: web.Request) -> web.Response:
    return answers.json_answer({"now": request.app[SANDBOX_KEY].now().isoformat()})


async def admin_rate_limits(request: web.Request) -> web.Response:
    limiter = request.app[SANDBOX_KEY].limiter
    if request.method == "POST":
        body = await json_object(request)
        if body is None:
            return answers.errors("The request body must be a JSON object.", status=400)
        try:
            limiter.configure({k: _rate_limit(v) for k, v in body.items()})
        except (TypeError, ValueError) as exc:
            return answers.errors(str(exc), status=400)
    return answers.json_answer(limiter.to_json())


def _rate_limit(value: Any) -> RateLimit | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return RateLimit(int(value["limit"]), float(value.get("window", 60)))
    return RateLimit(int(value))


ADMIN_ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "", admin_index),
    ("GET", "/", admin_index),
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
