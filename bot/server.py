"""HTTP mode: Slack's requests at /slack/events (signed, verified by Bolt) and /healthz."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import text

from bot.runtime import Runtime
from bot.wiring import make_client
from core.errors import PropellerAdsError
from core.propellerads import PropellerAdsClient

log = logging.getLogger(__name__)
RUNTIME_KEY = web.AppKey("runtime", Runtime)
EVENTS_PATH = "/slack/events"
PROBE_EVERY_SECONDS = 30.0
"""Slack and PropellerAds are asked at most this often however often /healthz is (balance: 30 calls a minute)."""
# Slack sends a whole small request at once; a client that trickles one in holds a connection for nothing.
HEADER_TIMEOUT_SECONDS = 15.0
"""A connection without a whole request's headers this long (or idle this long between requests) is closed."""
BODY_TIMEOUT_SECONDS = 10.0
"""A request whose body has not all arrived this long after its headers gets 408 and the connection closes."""
MAX_REQUESTS_IN_FLIGHT = 200
"""More requests than this being read or answered at once get 503 at once (Slack retries them)."""
LISTENERS_GRACE_SECONDS = 10.0
"""How long a stopping bot lets work begun after an ack finish."""


def _guarded() -> web.Middleware:
    """Caps the requests in flight and gives each body BODY_TIMEOUT_SECONDS to arrive."""
    in_flight = 0

    @web.middleware
    async def guard(request: web.Request, handler: web.Handler) -> web.StreamResponse:
        nonlocal in_flight
        if in_flight >= MAX_REQUESTS_IN_FLIGHT:
            return _closing(web.json_response({"error": "busy"}, status=503, headers={"Retry-After": "1"}))
        in_flight += 1
        try:
            try:
                async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
                    await request.read()  # kept by aiohttp for the handler
            except TimeoutError:
                log.info("closed a request to %s whose body did not arrive within %g s", request.path, BODY_TIMEOUT_SECONDS)
                return _closing(web.json_response({"error": "request body too slow"}, status=408))
            return await handler(request)
        finally:
            in_flight -= 1

    return guard


def _closing(response: web.Response) -> web.Response:
    response.force_close()
    return response


class Dependencies:
    """What /healthz says of the services the bot talks to; the database is asked every time."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._apis = {account.name: make_client(account.settings, probe=True) for account in runtime.accounts}
        self._lock = asyncio.Lock()
        self._remote: dict[str, str] = {}
        self._asked_at = float("-inf")

    async def states(self) -> dict[str, str]:
        return {"database": await self._database(), **await self._remote_states()}

    async def _database(self) -> str:
        try:
            async with self.runtime.store.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:
            return f"unavailable ({type(exc).__name__})"
        return "ok"

    async def _remote_states(self) -> dict[str, str]:
        async with self._lock:  # one probe at a time; the others take its answer
            if time.monotonic() - self._asked_at >= PROBE_EVERY_SECONDS:
                slack, ads = await asyncio.gather(self._slack(), self._propellerads())
                self._remote = {"slack": slack, "propellerads": ads}
                self._asked_at = time.monotonic()
            return dict(self._remote)

    async def _slack(self) -> str:
        try:
            await self.runtime.app.client.auth_test()
        except SlackApiError as exc:
            return f"refused the bot token ({exc.response.get('error')})"
        except Exception as exc:  # aiohttp's connection errors, timeouts
            return f"unreachable ({type(exc).__name__})"
        return "ok"

    async def _propellerads(self) -> str:
        """"ok" when every ad account's token reads its balance; else each refusal, named by its account when
        there are several."""
        answers = await asyncio.gather(*(self._probe(api) for api in self._apis.values()))
        if len(answers) == 1:
            return answers[0]
        failing = [f"{name}: {answer}" for name, answer in zip(self._apis, answers) if answer != "ok"]
        return "; ".join(failing) or "ok"

    @staticmethod
    async def _probe(api: PropellerAdsClient) -> str:
        try:
            await api.balance()
        except PropellerAdsError as exc:
            return exc.summary()
        return "ok"

    async def aclose(self) -> None:
        for api in self._apis.values():
            await api.aclose()


def build_web_app(runtime: Runtime, *, schedule: bool = True) -> web.Application:
    web_app = web.Application(
        middlewares=[_guarded()],
        # Handed to every connection whoever runs the app (serve, the demo, the tests): aiohttp's own
        # default keeps a connection that never finishes its headers for an hour.
        handler_args={"keepalive_timeout": HEADER_TIMEOUT_SECONDS},
    )
    web_app[RUNTIME_KEY] = runtime
    dependencies = Dependencies(runtime)

    async def slack_events(request: web.Request) -> web.Response:
        if not _is_integer(request.headers.get("X-Slack-Request-Timestamp", "0")):
            # slack_sdk's signature check raises on such a timestamp and Bolt turns that into a 500.
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            bolt_request = await to_bolt_request(request)
        except Exception:
            # A payload that is not a JSON object, bytes that are not UTF-8: aiohttp or Bolt made a 500.
            return await refuse(request, "whose body cannot be read")
        if not _bolt_can_read(bolt_request.body):
            return await refuse(request, "of a shape Slack never sends")
        bolt_response = await runtime.app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def refuse(request: web.Request, why: str) -> web.Response:
        """Slack never sends such a request: 401 unless it is signed, and then 400."""
        status = 400 if _signed(runtime, request.headers, await request.read()) else 401
        log.info("refused a request to %s %s (%d)", EVENTS_PATH, why, status)
        return web.json_response({"error": "invalid request"}, status=status)

    async def healthz(request: web.Request) -> web.Response:
        """Each service by name; 503 only when the database fails, since without Slack or PropellerAds the
        bot still answers Slack's requests (with what went wrong), and a load balancer should keep it."""
        states = await dependencies.states()
        ok = all(state == "ok" for state in states.values())
        return web.json_response({"ok": ok, **states}, status=200 if states["database"] == "ok" else 503)

    # The tasks of whoever runs the app (the demo's own, the test's) were there before it started: the app's
    # cleanup runs inside one of them, and waiting on them from there would wait on itself.
    before: set[asyncio.Task[Any]] = set()

    async def on_startup(_: web.Application) -> None:
        before.update(asyncio.all_tasks())
        await runtime.start(schedule=schedule)

    async def on_cleanup(_: web.Application) -> None:
        await runtime.stop_background()
        await _finish_listeners(before)
        await dependencies.aclose()
        await runtime.stop()

    web_app.router.add_post(EVENTS_PATH, slack_events)
    web_app.router.add_get("/healthz", healthz)
    web_app.on_startup.append(on_startup)
    web_app.on_cleanup.append(on_cleanup)
    return web_app


async def _finish_listeners(before: set[asyncio.Task[Any]]) -> None:
    """Lets the work Bolt runs after an ack (an apply, its announcement) end before the store closes; what is
    still running after a while is cancelled and unwound. Left running, it would be cut off when the loop
    closes, inside a database session that never closes. Tasks that were there `before` the app started are not
    the app's to wait for or cancel."""
    others = {task for task in asyncio.all_tasks() if task is not asyncio.current_task() and task not in before}
    if not others:
        return
    _, pending = await asyncio.wait(others, timeout=LISTENERS_GRACE_SECONDS)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


# Parts of a payload that Slack always sends as objects; Bolt reads into them before any listener runs.
_OBJECTS = ("user", "team", "channel", "container", "view", "event", "message", "state")


def _bolt_can_read(body: object) -> bool:
    """False for shapes Slack never sends and Bolt reads blindly (making it answer 500): `view: null`, `actions: []`."""
    if not isinstance(body, dict):
        return False
    if any(key in body and not isinstance(body[key], dict) for key in _OBJECTS):
        return False
    if "actions" in body or body.get("type") == "block_actions":
        actions = body.get("actions")
        return isinstance(actions, list) and bool(actions) and all(isinstance(a, dict) for a in actions)
    return True


def _signed(runtime: Runtime, headers: Mapping[str, str], body: bytes) -> bool:
    secret = runtime.settings.slack_signing_secret
    if secret is None:
        return False
    verifier = SignatureVerifier(secret.get_secret_value())
    return verifier.is_valid(body, headers.get("X-Slack-Request-Timestamp"), headers.get("X-Slack-Signature"))


def _is_integer(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True
