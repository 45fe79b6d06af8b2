"""The stand-in's upload flow over real HTTP, driven by slack_sdk's files_upload_v2: an upload URL, the bytes,
the completion that shares the file into the channel, and the page that shows it."""

from __future__ import annotations

import struct
import zlib

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from sandbox.slack.model import png_size
# The stand-in served from a thread and a client of its Web API, as the other stand-in tests have them.
from tests.slack_standin.test_standin import client, page_at, served  # noqa: F401


def tiny_png(width: int, height: int) -> bytes:
    """A valid grey PNG of the given size, built by hand so the test needs no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


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

    history = await client.conversations_history(channel="C0BUDGET")
    assert [m["files"][0]["id"] for m in history["messages"]] == [answer["file"]["id"]]
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


@pytest.mark.browser
async def test_the_channel_page_shows_a_shared_image(served, client):
    await client.files_upload_v2(
        channel="C0BUDGET", content=tiny_png(40, 25), filename="pace.png", title="Spend today", initial_comment="Spent 12.00 USD"
    )
    async with page_at(served[0].url + "/") as page:
        message = page.locator(".message", has_text="Spent 12.00 USD")
        image = message.locator("img.shared-image")
        await image.wait_for()
        await page.wait_for_function("document.querySelector('img.shared-image').complete")
        assert await image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [40, 25]
        assert await message.locator("figcaption").inner_text() == "Spend today"
