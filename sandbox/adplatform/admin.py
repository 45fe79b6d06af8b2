"""Admin routes under /_sandbox for tests and demos (no token, no rate limit, not logged): faults, log, scenarios.

Each acts on one account: the one whose token `?account=<token>` names, else the first (or only) one.

`POST /_sandbox/scenarios` with `{"scenario": NAME, "campaign_ids": [..]}` (every campaign when the ids are
left out) makes something happen from the sandbox's now:
- `stop_spending`: working and under its cap, the campaign spends nothing (until `normal`, or `hours`);
- `spike`: it spends `factor` (default 4) times its usual rate for `hours` (default 1);
- `stop_conversions`: it spends as usual and no conversion arrives (until `normal`, or `hours`);
- `platform_pause`: the platform pauses it (status 7, "out of daily impression limit") for `hours`
  (default 2), then it works again;
- `reject`: moderation rejects it: status 3, and it stops spending;
- `normal`: whatever episode is going on ends (a rejection stands).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from sandbox.adplatform import answers
from sandbox.adplatform.api import ADMIN_PREFIX, API_PREFIX, Handler, json_object, parse_amount
from sandbox.adplatform.model import REJECTED
from sandbox.adplatform.ratelimit import RateLimit
from sandbox.adplatform.simulation import NO_CONVERSIONS, PLATFORM_PAUSE, SPIKE, STALL, Episode, platform_day
from sandbox.adplatform.state import SERVING_KEY


async def admin_index(request: web.Request) -> web.Response:
    """What the banner's admin address offers: every admin route, and where the API is."""
    routes = [{"method": method, "path": ADMIN_PREFIX + path} for method, path, _ in ADMIN_ROUTES if path not in ("", "/")]
    return answers.json_answer({"api": API_PREFIX, "routes": routes})


async def admin_get_faults(request: web.Request) -> web.Response:
    return answers.json_answer(request[SERVING_KEY].faults.to_json())


async def admin_set_faults(request: web.Request) -> web.Response:
    faults = request[SERVING_KEY].faults
    body = await json_object(request)
    if body is None:
        return answers.errors("The request body must be a JSON object.", status=400)
    try:
        faults.update(body)
    except (TypeError, ValueError, KeyError) as exc:
        return answers.errors(str(exc), status=400)
    return answers.json_answer(faults.to_json())


async def admin_clear_faults(request: web.Request) -> web.Response:
    faults = request[SERVING_KEY].faults
    faults.clear()
    return answers.json_answer(faults.to_json())


async def admin_requests(request: web.Request) -> web.Response:
    log = request[SERVING_KEY].requests
    found = log.entries(
        method=request.query.get("method"), path=request.query.get("path"), endpoint=request.query.get("endpoint")
    )
    return answers.json_answer({"requests": [e.to_json() for e in found], "count": len(found)})


async def admin_reset_log(request: web.Request) -> web.Response:
    request[SERVING_KEY].requests.clear()
    return answers.json_answer({"result": True})


async def admin_campaign(request: web.Request) -> web.Response:
    sandbox = request[SERVING_KEY]
    campaign_id = int(request.match_info["campaign_id"])
    campaign = sandbox.account.campaigns.get(campaign_id)
    if campaign is None:
        return answers.errors("Campaign not found.", status=404)
    now = sandbox.now()
    today = sandbox.account.day_stats(campaign_id, platform_day(now), now)
    return answers.json_answer(
        campaign.to_state()
        | {
            "status_shown": sandbox.account.status_at(campaign, now),
            "spent_today": str(today.spent) if today else "0.000",
            "conversions_today": today.conversions if today else 0,
            "episodes": [_episode_json(e) for e in sandbox.account.episodes.get(campaign_id, [])],
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


def _episode_json(episode: Episode) -> dict[str, Any]:
    return {
        "kind": episode.kind,
        "since": episode.since.isoformat(),
        "until": None if episode.until is None else episode.until.isoformat(),
        "factor": str(episode.factor),
    }


# Episode and default length in hours (None: until `normal`) of each scenario that starts one.
SCENARIOS: dict[str, tuple[str, float | None]] = {
    "stop_spending": (STALL, None),
    "spike": (SPIKE, 1.0),
    "stop_conversions": (NO_CONVERSIONS, None),
    "platform_pause": (PLATFORM_PAUSE, 2.0),
}
DEFAULT_SPIKE = Decimal(4)


async def admin_scenario(request: web.Request) -> web.Response:
    sandbox = request[SERVING_KEY]
    body = await json_object(request)
    if body is None:
        return answers.errors("The request body must be a JSON object.", status=400)
    name = body.get("scenario")
    if name not in (*SCENARIOS, "reject", "normal"):
        return answers.errors(f"scenario must be one of {', '.join([*SCENARIOS, 'reject', 'normal'])}", status=400)
    ids = body.get("campaign_ids", sorted(sandbox.account.campaigns))
    if not isinstance(ids, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        return answers.errors("campaign_ids must be a list of campaign ids", status=400)
    unknown = [i for i in ids if i not in sandbox.account.campaigns]
    if unknown:
        return answers.errors(f"no campaign {unknown[0]}", status=404)
    hours = body.get("hours")
    factor = parse_amount(body["factor"]) if "factor" in body else DEFAULT_SPIKE
    if hours is not None and (isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours <= 0):
        return answers.errors("hours must be a positive number", status=400)
    if factor is None or factor <= 0:
        return answers.errors("factor must be a positive number", status=400)
    now = sandbox.now()
    if name == "reject":
        sandbox.account.set_status(ids, REJECTED, now)
    elif name == "normal":
        for campaign_id in ids:
            sandbox.account.end_episodes(campaign_id, now)
    else:
        kind, default_hours = SCENARIOS[name]
        for campaign_id in ids:
            sandbox.account.begin(
                campaign_id, kind, now, hours=hours or default_hours, factor=factor if kind == SPIKE else Decimal(1)
            )
    sandbox.changed()
    return answers.json_answer({"scenario": name, "campaign_ids": ids, "at": now.isoformat()})


async def admin_set_balance(request: web.Request) -> web.Response:
    sandbox = request[SERVING_KEY]
    body = await json_object(request)
    amount = None if body is None else parse_amount(body.get("balance"))
    if amount is None:
        return answers.field_errors({"balance": ["This value should be of type numeric."]})
    sandbox.account.set_balance(amount, sandbox.now())
    sandbox.changed()
    return answers.json_answer({"balance": f"{sandbox.account.balance_at(sandbox.now()):.2f}"})


async def admin_clock(request: web.Request) -> web.Response:
    return answers.json_answer({"now": request[SERVING_KEY].now().isoformat()})


async def admin_rate_limits(request: web.Request) -> web.Response:
    limiter = request[SERVING_KEY].limiter
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
    ("POST", "/scenarios", admin_scenario),
    ("GET", "/rate-limits", admin_rate_limits),
    ("POST", "/rate-limits", admin_rate_limits),
)
