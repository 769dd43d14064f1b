"""Paging newest first by id (keyset paging): the one rule the store, the agent's routes and
the console share.

A page holds at most `limit` rows (1 to `MAX_LIMIT`) with ids below `before_id`, newest
first. A full page gives the next page's cursor, its last id; a page that is not full is
the last one (cursor None), so a reader stops without asking for an empty page more often
than when the rows end exactly on a page boundary.
"""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_ID = 2**62  # the largest cursor the routes accept (ids are BIGINT)


def clamp_limit(limit: int) -> int:
    """`limit` within 1 and `MAX_LIMIT`: what a page holds at most."""
    return max(1, min(limit, MAX_LIMIT))


def next_before_id(ids: Sequence[int | None], limit: int) -> int | None:
    """The cursor of the next older page: the last id of a full page, else None."""
    return ids[-1] if ids and len(ids) == clamp_limit(limit) else None
