"""Files as Slack's upload flow takes them: an upload URL asked for, the bytes POSTed to it, the upload
completed and shared into a channel as a message carrying the file."""

from __future__ import annotations

from typing import Any

from sandbox.slack.messages import Messages
from sandbox.slack.model import MAX_UPLOAD, File, png_size
from sandbox.slack.state import SlackError


class Files(Messages):
    """The files the bot uploaded, by id."""

    def file(self, file_id: str) -> File | None:
        return self._files.get(file_id)

    @property
    def files(self) -> list[File]:
        return list(self._files.values())

    def upload_url(self, filename: Any, length: Any, alt_text: Any = None) -> tuple[str, str]:
        """files.getUploadURLExternal: a file id and the URL on this stand-in its bytes go to."""
        if not isinstance(filename, str) or not filename:
            raise SlackError("invalid_arguments", errors=["missing required field: filename"])
        try:
            size = int(length)
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments", errors=["missing required field: length"]) from None
        if not 0 < size <= MAX_UPLOAD:
            raise SlackError("invalid_arguments", errors=[f"length {size} is not between 1 and {MAX_UPLOAD}"])
        if self.base_url is None:
            raise RuntimeError("the stand-in's own URL is not known yet; set standin.base_url")
        found = File(self._new_id("F"), filename, size, alt_text if isinstance(alt_text, str) else "")
        self._files[found.id] = found
        return found.id, f"{self.base_url}/upload/{found.id}"

    def receive(self, file_id: str, data: bytes) -> File:
        """The upload URL's POST: the bytes must be as long as announced, and sent once."""
        found = self._files.get(file_id)
        if found is None or found.completed:
            raise LookupError(f"no upload waits at {file_id}")
        if len(data) != found.length:
            raise ValueError(f"{len(data)} bytes sent, {found.length} announced")
        found.data = data
        self.record_call("upload", {"file_id": file_id, "length": len(data), "png": png_size(data) is not None})
        return found

    def complete(self, files: Any, channel: Any = None, initial_comment: Any = None, thread_ts: Any = None) -> list[File]:
        """files.completeUploadExternal: every file named must have its bytes; with a channel they are
        shared there in one message whose text is the initial comment."""
        if not isinstance(files, list) or not files:
            raise SlackError("invalid_arguments", errors=["missing required field: files"])
        done = []
        for item in files:
            found = self._files.get(item.get("id", "")) if isinstance(item, dict) else None
            if found is None or found.data is None or found.completed:
                raise SlackError("file_not_found")
            done.append((found, item))
        for found, item in done:
            found.title = str(item.get("title") or found.name)
            found.completed = True
        if channel:
            assert self.base_url is not None
            self.post_message(
                channel,
                text=initial_comment if isinstance(initial_comment, str) else "",
                thread_ts=thread_ts if isinstance(thread_ts, str) else None,
                files=[found.to_slack(self.base_url) for found, _ in done],
                via="files.completeUploadExternal",
            )
        return [found for found, _ in done]
