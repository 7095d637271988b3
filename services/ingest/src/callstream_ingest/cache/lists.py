"""A cached conversations page, composed: a page of ids plus one summary per conversation.

Pure. What a page holds and in which order depends on few facets of its scope (see
:func:`callstream_ingest.cache.policy.page_facets`); what each item shows (status, score,
completion) changes with every step of the pipeline. So the page is cached as its ids
and cursor only, and each item as its own entry, versioned by its conversation: a status
change re-reads one row by primary key instead of recomputing every page that shows it.
A hit is composed by joining the stored JSON bytes: nothing is parsed or validated again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from pydantic import BaseModel

from callstream_common.reads.conversations import ConversationItem, ConversationPage


class PageIds(BaseModel):
    """What is cached of a page: its conversations in order and where the next page starts."""

    ids: list[str]
    next_cursor: str | None
    limit: int


def ids_of(page: ConversationPage) -> bytes:
    return (
        PageIds(ids=[str(i.id) for i in page.items], next_cursor=page.next_cursor, limit=page.limit)
        .model_dump_json()
        .encode()
    )


def read_ids(raw: bytes) -> PageIds:
    return PageIds.model_validate_json(raw)


def item_body(item: ConversationItem) -> bytes:
    return item.model_dump_json().encode()


def compose(page: PageIds, items: Mapping[str, bytes]) -> bytes:
    """The page's JSON, byte for byte what ``ConversationPage.model_dump_json()`` gives,
    from the items' stored JSON. A conversation with no item (deleted, or moved out of
    the caller's scope, between the page and the item reads) is left out."""
    listed = b",".join(items[i] for i in page.ids if i in items)
    return (
        b'{"items":['
        + listed
        + b'],"next_cursor":'
        + json.dumps(page.next_cursor).encode()
        + b',"limit":'
        + str(page.limit).encode()
        + b"}"
    )
