"""Block Kit helpers for the stand-in: checking blocks as Slack would, and finding things in them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100

# Elements Slack would report in view_submission state, with the key their value travels under.
_INPUT_VALUE_KEYS = {
    "plain_text_input": "value",
    "number_input": "value",
    "email_text_input": "value",
    "url_text_input": "value",
}

_INTERACTIVE = {
    "button", "overflow", "datepicker", "timepicker", "datetimepicker", "checkboxes",
    "radio_buttons", *_INPUT_VALUE_KEYS,
}


def problems(blocks: Any, limit: int) -> list[str]:
    """What Slack would reject in `blocks`; empty when they are fine.

    slack_sdk's models know Slack's field limits, so parsing each block and asking it to
    validate itself catches the same mistakes Slack answers with `invalid_blocks`.
    """
    if not isinstance(blocks, list):
        return ["blocks must be a list"]
    found = []
    if len(blocks) > limit:
        found.append(f"no more than {limit} items allowed [json-pointer:/blocks]")
    for index, raw in enumerate(blocks):
        if not isinstance(raw, dict) or "type" not in raw:
            found.append(f"block must be an object with a type [json-pointer:/blocks/{index}]")
            continue
        block = Block.parse(raw)
        if block is None:
            found.append(f"unsupported type: {raw['type']} [json-pointer:/blocks/{index}/type]")
            continue
        try:
            block.validate_json()
        except SlackObjectFormationError as exc:
            found.append(f"{exc} [json-pointer:/blocks/{index}]")
    return found


def with_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of `blocks` with the block_id and action_id Slack fills in when a bot leaves them out."""
    filled = []
    for block in blocks:
        block = dict(block)
        block.setdefault("block_id", secrets.token_urlsafe(4))
        for key in ("elements", "accessory", "element"):
            if key not in block:
                continue
            if key == "elements":
                block[key] = [_with_action_id(element) for element in block[key]]
            else:
                block[key] = _with_action_id(block[key])
        filled.append(block)
    return filled


def _with_action_id(element: Any) -> Any:
    if isinstance(element, dict) and _interactive(element.get("type", "")):
        element = dict(element)
        element.setdefault("action_id", secrets.token_urlsafe(4))
    return element


def _interactive(kind: str) -> bool:
    return kind in _INTERACTIVE or kind.endswith("_select")


def texts(value: Any) -> Iterator[str]:
    """Every `text` string inside blocks, depth first, in reading order."""
    if isinstance(value, dict):
        text = value.get("text")
        if isinstance(text, str):
            yield text
        for key, inner in value.items():
            if key != "text" or not isinstance(inner, str):
                yield from texts(inner)
    elif isinstance(value, list):
        for item in value:
            yield from texts(item)


def find_action(
    blocks: list[dict[str, Any]], action_id: str, value: str | None = None, *, block_id: str | None = None
) -> tuple[str, dict[str, Any]]:
    """The block_id and element of the interactive element with this action_id; of menus sharing one (an
    overflow menu per line), the one offering `value`; of buttons sharing one, the one in block `block_id`."""
    for block in blocks:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        candidates = []
        if block.get("type") == "actions":
            candidates = block.get("elements", [])
        elif isinstance(block.get("accessory"), dict):
            candidates = [block["accessory"]]
        for element in candidates:
            if element.get("action_id") != action_id:
                continue
            options = element.get("options")
            if value is None or options is None or any(o.get("value") == value for o in options):
                return block.get("block_id", ""), element
    raise LookupError(f"no element with action_id {action_id!r}" + (f" offering {value!r}" if value else ""))


def input_state(
    blocks: list[dict[str, Any]], values: Mapping[str, Any] | None
) -> dict[str, dict[str, dict[str, Any]]]:
    """`view.state.values` for the input blocks of a view, as Slack builds it on submission.

    `values` maps an action_id (or a block_id) to the typed text, or a block_id to a mapping
    of action_id to text; inputs left out keep their initial value.
    """
    values = values or {}
    state: dict[str, dict[str, dict[str, Any]]] = {}
    for block in blocks:
        element = block.get("element")
        if block.get("type") != "input" or not isinstance(element, dict):
            continue
        kind = element.get("type", "")
        if kind not in _INPUT_VALUE_KEYS:
            continue
        block_id, action_id = block["block_id"], element["action_id"]
        given = values.get(block_id)
        if isinstance(given, Mapping):
            given = given.get(action_id)
        if given is None:
            given = values.get(action_id, element.get("initial_value"))
        state[block_id] = {action_id: {"type": kind, _INPUT_VALUE_KEYS[kind]: given}}
    return state
