"""The browser side of the stand-in: the channel page, its live state, and the test-facing JSON endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.slack.model import Ack
from sandbox.slack.standin import STANDIN, SlackStandIn
from sandbox.slack.state import SlackError

STATIC = Path(__file__).parent / "static"

# A long poll returns within this many seconds even when nothing changed, so proxies and
# browsers never see a request hang long enough to kill it.
LONG_POLL_SECONDS = 20.0

# What a page action can run into: no bot URL yet, an unknown user or message, a bad channel.
CANNOT = (RuntimeError, LookupError, SlackError)


def _standin(request: web.Request) -> SlackStandIn:
    return request.app[STANDIN]


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="expected a JSON body") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return body


def _ack_json(ack: Ack | None) -> dict[str, Any]:
    return ack.to_json() if ack else {"kind": "none", "ok": True, "status": 200, "error": None}


def _refused(exc: Exception) -> web.Response:
    """The page asked for something that cannot be done, e.g. the bot's URL is not set yet."""
    return web.json_response({"ok": False, "status": 0, "error": str(exc)}, status=409)


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def state(request: web.Request) -> web.Response:
    """The channel as one user sees it; with `since`, waits until something newer exists."""
    standin = _standin(request)
    user_id = request.query.get("user") or standin.default_user.id
    if user_id not in standin.users:
        raise web.HTTPNotFound(text=f"unknown user {user_id}")
    since = request.query.get("since")
    if since is not None and since.lstrip("-").isdigit():
        await standin.wait_for_change(int(since), LONG_POLL_SECONDS)
    return web.json_response(_page_state(standin, user_id), headers={"Cache-Control": "no-store"})


def _page_state(standin: SlackStandIn, user_id: str) -> dict[str, Any]:
    user = standin.user(user_id)
    bot = standin.workspace.bot_user
    home = standin.home(user.id)
    modal = standin.modal(user.id)
    return {
        "revision": standin.revision,
        "channel": {"id": standin.channel_id, "name": standin.channel_name},
        "command": standin.command,
        "bot_ready": bool(standin.bot_url),
        "user": user.id,
        "users": [{"id": u.id, "name": u.name, "real_name": u.real_name, "label": u.display} for u in standin.people],
        "people": {u.id: {"name": u.real_name, "is_bot": u.is_bot} for u in standin.users.values()},
        "bot": {"id": bot.id, "name": bot.real_name},
        "messages": [m.to_json() for m in standin.messages(user_id=user.id)],
        "home": home.to_json() if home else None,
        "modal": modal.to_json() if modal else None,
    }


async def calls(request: web.Request) -> web.Response:
    standin = _standin(request)
    return web.json_response(
        {
            "calls": [call.to_json() for call in standin.calls],
            "acks": [ack.to_json() for ack in standin.acks],
        }
    )


async def rate_limit(request: web.Request) -> web.Response:
    body = await _json_body(request)
    _standin(request).rate_limit(
        body.get("method"), times=int(body.get("times", 1)), retry_after=int(body.get("retry_after", 1))
    )
    return web.json_response({"ok": True})


async def ui_command(request: web.Request) -> web.Response:
    """The composer: `/budget …` goes to the bot signed; other text is posted as the user."""
    standin = _standin(request)
    body = await _json_body(request)
    user_id = body.get("user_id")
    line = str(body.get("text", "")).strip()
    if not line:
        raise web.HTTPBadRequest(text="nothing to send")
    if not line.startswith("/"):
        standin.post_as_user(line, user_id=user_id)
        return web.json_response(_ack_json(None))
    command, _, text = line.partition(" ")
    if command != standin.command:
        return web.json_response(
            {"ok": False, "status": 0, "error": f"{command} is not a valid command. Try {standin.command}."}
        )
    try:
        ack = await standin.send_command(text.strip(), user_id=user_id)
    except CANNOT as exc:
        return _refused(exc)
    return web.json_response(_ack_json(ack))


async def ui_click(request: web.Request) -> web.Response:
    standin = _standin(request)
    body = await _json_body(request)
    try:
        if body.get("view_id"):
            ack = await standin.click_view(
                body["action_id"], user_id=body.get("user_id"), view_id=body["view_id"], values=body.get("values")
            )
        else:
            ack = await standin.click(body["message_ts"], body["action_id"], user_id=body.get("user_id"))
    except CANNOT as exc:
        return _refused(exc)
    return web.json_response(_ack_json(ack))


async def ui_submit(request: web.Request) -> web.Response:
    standin = _standin(request)
    body = await _json_body(request)
    try:
        ack = await standin.submit_view(body.get("values"), user_id=body.get("user_id"), view_id=body.get("view_id"))
    except CANNOT as exc:
        return _refused(exc)
    return web.json_response(_ack_json(ack))


async def ui_close(request: web.Request) -> web.Response:
    body = await _json_body(request)
    try:
        ack = await _standin(request).close_view(user_id=body.get("user_id"))
    except CANNOT as exc:
        return _refused(exc)
    return web.json_response(_ack_json(ack))


async def ui_home(request: web.Request) -> web.Response:
    body = await _json_body(request)
    try:
        ack = await _standin(request).open_home(body.get("user_id"))
    except CANNOT as exc:
        return _refused(exc)
    return web.json_response(_ack_json(ack))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC)
    app.router.add_get("/_standin/state", state)
    app.router.add_get("/_standin/calls", calls)
    app.router.add_post("/_standin/rate_limit", rate_limit)
    app.router.add_post("/_standin/ui/command", ui_command)
    app.router.add_post("/_standin/ui/click", ui_click)
    app.router.add_post("/_standin/ui/submit", ui_submit)
    app.router.add_post("/_standin/ui/close", ui_close)
    app.router.add_post("/_standin/ui/home", ui_home)
