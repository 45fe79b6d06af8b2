"""How the sandbox answers: compact JSON, the recorded error shapes, and the deliberately broken answers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

JSON_TYPE = "application/json"
# The recorded 429 came as text/html, not JSON.
HTML_TYPE = "text/html; charset=UTF-8"
RATE_LIMITED = "You exceeded the rate limit"


def json_answer(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    # Compact like the live API, and exactly "application/json" (aiohttp would add a charset).
    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(status=status, body=body, headers={"Content-Type": JSON_TYPE, **(headers or {})})


def errors(*messages: str, status: int) -> web.Response:
    return json_answer({"errors": list(messages)}, status=status)


def field_errors(fields: Mapping[str, Any]) -> web.Response:
    """A 400 keyed by field, the live API's validation shape."""
    return json_answer(dict(fields), status=400)


def rate_limited(headers: Mapping[str, str]) -> web.Response:
    return web.Response(status=429, body=RATE_LIMITED.encode(), headers={"Content-Type": HTML_TYPE, **headers})


def standard_error(status: int) -> web.Response:
    """The body a forced or random failure answers with: the recorded shapes where there is a recording."""
    if status == 429:
        return rate_limited({})
    if status == 401:
        return errors("Unauthorized.", status=401)
    if status == 403:
        return errors("Access denied.", status=403)
    if status in (502, 503, 504):
        # What a proxy in front of the API sends: HTML, not JSON.
        title = f"{status} {web.Response(status=status).reason}"
        page = (
            f"<html><head><title>{title}</title></head>"
            f"<body><center><h1>{title}</h1></center><hr><center>nginx</center></body></html>"
        )
        return web.Response(status=status, body=page.encode(), headers={"Content-Type": "text/html"})
    if status >= 500:
        return errors("Internal server error.", status=status)
    return errors(web.Response(status=status).reason, status=status)


def malformed(response: web.StreamResponse) -> web.Response:
    """200 with the real body cut in half: valid JSON always ends in its last character, so this never parses."""
    body = response.body if isinstance(response, web.Response) and isinstance(response.body, bytes) else b"{}"
    headers = {k: v for k, v in response.headers.items() if k.lower().startswith("x-ratelimit")}
    return web.Response(status=200, body=body[: len(body) // 2], headers={"Content-Type": JSON_TYPE, **headers})


def drop(request: web.Request) -> web.Response:
    """Closes the socket without a byte of answer; the response returned is never sent."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=499)


def no_route(request: web.Request, exc: web.HTTPException) -> web.Response:
    # Symfony's words, as recorded: a JSON string naming the method and the URL without its query.
    url = request.url.with_query(None)
    message = f'No route found for "{request.method} {url}"'
    if isinstance(exc, web.HTTPMethodNotAllowed):
        message += f": Method Not Allowed (Allow: {', '.join(sorted(exc.allowed_methods))})"
    return json_answer(message, status=exc.status)
