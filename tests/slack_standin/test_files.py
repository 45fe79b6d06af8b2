"""The stand-in's upload flow over real HTTP, driven by slack_sdk's files_upload_v2: an upload URL, the bytes,
the completion that shares the file into the channel, and the page that shows it."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack import start_standin
from sandbox.slack.model import png_size

SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token"
APP_JS = Path(__file__).parents[2] / "sandbox" / "slack" / "static" / "app.js"
BOT_SOURCES = [*Path(__file__).parents[2].joinpath("bot").glob("*.py"), *Path(__file__).parents[2].joinpath("handlers").glob("*.py")]


def tiny_png(width: int, height: int) -> bytes:
    """A valid grey PNG of the given size, built by hand so the test needs no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture
def served():
    server, standin = start_standin(bot_url=None, signing_secret=SECRET, bot_token=TOKEN)
    yield server, standin
    server.stop()


@pytest.fixture
def client(served) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=served[0].url + "/api/")


async def test_files_upload_v2_makes_three_calls_and_shares_the_image_with_its_comment(served, client):
    server, standin = served
    png = tiny_png(7, 3)
    answer = await client.files_upload_v2(
        channel="C0BUDGET", content=png, filename="spend.png", title="Spend per ad day", initial_comment="Spent 265.00 USD"
    )
    assert answer["ok"] and answer["file"]["title"] == "Spend per ad day"
    assert [c.method for c in standin.calls] == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    asked = standin.calls_to("files.getUploadURLExternal")[0].args
    assert (asked["filename"], int(asked["length"])) == ("spend.png", len(png))
    assert standin.calls_to("upload")[0].args == {"file_id": answer["file"]["id"], "length": len(png), "png": True}

    [shared] = standin.messages()
    assert shared.text == "Spent 265.00 USD" and shared.via == "files.completeUploadExternal"
    [file] = shared.files
    assert (file["mimetype"], file["original_w"], file["original_h"]) == ("image/png", 7, 3)
    async with aiohttp.ClientSession() as http:
        async with http.get(file["url_private"]) as got:
            assert got.status == 200 and got.content_type == "image/png"
            assert png_size(await got.read()) == (7, 3)


async def test_the_upload_url_takes_only_the_announced_length_once(served, client):
    server, standin = served
    url = await client.files_getUploadURLExternal(filename="a.png", length=10)
    assert url["upload_url"].startswith(server.url + "/upload/")
    async with aiohttp.ClientSession() as http:
        async with http.post(url["upload_url"], data=b"short") as short:
            assert short.status == 400
        async with http.post(url["upload_url"], data=b"0123456789") as right:
            assert right.status == 200 and await right.text() == "OK - 10"
        await client.files_completeUploadExternal(files=[{"id": url["file_id"], "title": "a"}])
        async with http.post(url["upload_url"], data=b"0123456789") as again:
            assert again.status == 404
    assert standin.messages() == [], "completed without a channel: not shared"


async def test_completing_a_file_never_uploaded_is_refused(client, served):
    url = await client.files_getUploadURLExternal(filename="a.png", length=10)
    with pytest.raises(SlackApiError) as refused:
        await client.files_completeUploadExternal(files=[{"id": url["file_id"]}], channel_id="C0BUDGET")
    assert refused.value.response["error"] == "file_not_found"
    with pytest.raises(SlackApiError):
        await client.files_getUploadURLExternal(filename="a.png", length=0)


def test_png_size_reads_the_header_and_refuses_other_bytes():
    assert png_size(tiny_png(1000, 625)) == (1000, 625)
    assert png_size(b"GIF89a" + bytes(40)) is None


def test_the_page_draws_every_emoji_the_bot_writes():
    known = set(re.findall(r"(?:^|[\s{,])\"?([a-z0-9_+]+)\"?: \"", APP_JS.read_text()))
    used = {name for path in BOT_SOURCES for name in re.findall(r":([a-z][a-z_]+[a-z]):", path.read_text())}
    assert used, "the bot's sources name emoji"
    assert used - known == set()
