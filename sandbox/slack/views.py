"""Views as the Web API changes them: the App Home per user and each user's stack of modals."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from sandbox.slack import blockkit
from sandbox.slack.model import View
from sandbox.slack.state import SlackError, StandInState

# Slack keeps at most this many modals stacked for one user.
VIEW_STACK_LIMIT = 3


class Views(StandInState):
    """The App Home and the modals, checked and published the way Slack does."""

    def _check_view(self, view: Any, kind: str) -> dict[str, Any]:
        if not isinstance(view, Mapping) or view.get("type") != kind:
            raise SlackError("invalid_arguments", errors=[f"view.type must be {kind}"])
        found = blockkit.problems(view.get("blocks", []), blockkit.VIEW_BLOCK_LIMIT)
        if found:
            raise SlackError("invalid_arguments", errors=found)
        spec = dict(view)
        spec["blocks"] = blockkit.with_ids(list(view.get("blocks", [])))
        return spec

    def publish_home(self, user_id: Any, view: Any, hash: Any = None) -> View:
        if user_id not in self.users or self.users[user_id].is_bot:
            raise SlackError("user_not_found")
        spec = self._check_view(view, "home")
        current = self._homes.get(user_id)
        if hash and current is not None and hash != current.hash:
            raise SlackError("hash_conflict")
        view_id = current.id if current else self._new_id("V")
        published = View(view_id, "home", user_id, spec, self._hash(), root_view_id=view_id)
        self._homes[user_id] = published
        self._changed()
        return published

    def open_modal(self, trigger_id: Any, view: Any) -> View:
        user_id = self.use_trigger_id(trigger_id)
        spec = self._check_view(view, "modal")
        view_id = self._new_id("V")
        opened = View(view_id, "modal", user_id, spec, self._hash(), root_view_id=view_id)
        self._modals[user_id] = [opened]
        self._changed()
        return opened

    def push_modal(self, trigger_id: Any, view: Any) -> View:
        user_id = self.use_trigger_id(trigger_id)
        stack = self._modals.get(user_id)
        if not stack:
            raise SlackError("not_found")
        if len(stack) >= VIEW_STACK_LIMIT:
            raise SlackError("push_limit_reached")
        spec = self._check_view(view, "modal")
        pushed = View(self._new_id("V"), "modal", user_id, spec, self._hash(),
                      root_view_id=stack[0].id, previous_view_id=stack[-1].id)
        stack.append(pushed)
        self._changed()
        return pushed

    def _open_view(self, view_id: Any = None, external_id: Any = None) -> View:
        views = [*self._homes.values(), *itertools.chain.from_iterable(self._modals.values())]
        for view in views:
            if (view_id and view.id == view_id) or (external_id and view.spec.get("external_id") == external_id):
                return view
        raise SlackError("not_found")

    def update_view(self, view: Any, *, view_id: Any = None, external_id: Any = None, hash: Any = None) -> View:
        if not view_id and not external_id:
            raise SlackError("invalid_arguments", errors=["view_id or external_id is required"])
        target = self._open_view(view_id, external_id)
        if hash and hash != target.hash:
            raise SlackError("hash_conflict")
        target.spec = self._check_view(view, target.type)
        target.hash = self._hash()
        target.errors = {}
        target.notice = None
        self._changed()
        return target

    def _close_modal(self, user_id: str, *, everything: bool = False) -> None:
        stack = self._modals.get(user_id, [])
        if everything or len(stack) <= 1:
            self._modals.pop(user_id, None)
        else:
            stack.pop()
        self._changed()
