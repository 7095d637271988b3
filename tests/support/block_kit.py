"""Block Kit rules as Slack enforces them, for the fake Slack: an independent implementation,
deliberately not the services' own builders or slack-sdk's validators."""

from __future__ import annotations

# Block Kit limits, counted in UTF-16 code units like Slack does.
_MAX_BLOCKS = 50
_MAX_SECTION_TEXT = 3000
_MAX_FIELDS = 10
_MAX_FIELD_TEXT = 2000
_MAX_HEADER_TEXT = 150
_MAX_CONTEXT_ELEMENTS = 10
_MAX_ACTION_ELEMENTS = 25
_MAX_BUTTON_TEXT = 75
_MAX_URL = 3000
_MAX_ID = 255
_KNOWN_BLOCKS = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "video",
    }
)


def slack_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _text_problem(where: str, obj: object, limit: int, *, plain: bool = False) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where}: must be a text object"]
    allowed = {"plain_text"} if plain else {"plain_text", "mrkdwn"}
    if obj.get("type") not in allowed:
        return [f"{where}: type must be one of {sorted(allowed)}"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"{where}: text must be a non-empty string"]
    if slack_len(text) > limit:
        return [f"{where}: must be less than {limit + 1} characters"]
    return []


def block_kit_problems(blocks: object) -> list[str]:
    """Why Slack would refuse ``blocks`` (empty list: it would accept them)."""
    if not isinstance(blocks, list):
        return ["blocks: must be an array"]
    if not 1 <= len(blocks) <= _MAX_BLOCKS:
        return [f"blocks: must hold 1 to {_MAX_BLOCKS} blocks"]
    problems: list[str] = []
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        at = f"/blocks/{i}"
        if not isinstance(block, dict) or block.get("type") not in _KNOWN_BLOCKS:
            problems.append(f"{at}: unknown block type")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not block_id or len(block_id) > _MAX_ID:
                problems.append(f"{at}/block_id: invalid")
            elif block_id in block_ids:
                problems.append(f"{at}/block_id: duplicate")
            else:
                block_ids.add(block_id)
        kind = block["type"]
        if kind == "header":
            problems += _text_problem(f"{at}/text", block.get("text"), _MAX_HEADER_TEXT, plain=True)
        elif kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and fields is None:
                problems.append(f"{at}: section needs text or fields")
            if text is not None:
                problems += _text_problem(f"{at}/text", text, _MAX_SECTION_TEXT)
            if fields is not None:
                if not isinstance(fields, list) or not 1 <= len(fields) <= _MAX_FIELDS:
                    problems.append(f"{at}/fields: must hold 1 to {_MAX_FIELDS} items")
                else:
                    for j, item in enumerate(fields):
                        problems += _text_problem(f"{at}/fields/{j}", item, _MAX_FIELD_TEXT)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= _MAX_CONTEXT_ELEMENTS:
                problems.append(f"{at}/elements: must hold 1 to {_MAX_CONTEXT_ELEMENTS} items")
            else:
                for j, element in enumerate(elements):
                    if isinstance(element, dict) and element.get("type") == "image":
                        continue
                    problems += _text_problem(f"{at}/elements/{j}", element, _MAX_SECTION_TEXT)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= _MAX_ACTION_ELEMENTS:
                problems.append(f"{at}/elements: must hold 1 to {_MAX_ACTION_ELEMENTS} items")
                continue
            action_ids: set[str] = set()
            for j, element in enumerate(elements):
                where = f"{at}/elements/{j}"
                if not isinstance(element, dict) or not isinstance(element.get("type"), str):
                    problems.append(f"{where}: must be an element object")
                    continue
                action_id = element.get("action_id")
                if action_id is not None:
                    if not isinstance(action_id, str) or len(action_id) > _MAX_ID:
                        problems.append(f"{where}/action_id: invalid")
                    elif action_id in action_ids:
                        problems.append(f"{where}/action_id: duplicate")
                    else:
                        action_ids.add(action_id)
                if element["type"] != "button":
                    continue
                problems += _text_problem(
                    f"{where}/text", element.get("text"), _MAX_BUTTON_TEXT, plain=True
                )
                url = element.get("url")
                if url is not None and (not isinstance(url, str) or not url or len(url) > _MAX_URL):
                    problems.append(f"{where}/url: invalid")
                if element.get("style") not in (None, "primary", "danger"):
                    problems.append(f"{where}/style: invalid")
    return problems
