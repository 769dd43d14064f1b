"""The one paging rule: newest first by id, a full page gives the next cursor."""

from matrx_ship.paging import MAX_LIMIT, clamp_limit, next_before_id


def test_a_limit_is_held_between_one_and_the_maximum() -> None:
    assert [clamp_limit(n) for n in (-5, 0, 1, 50, MAX_LIMIT, MAX_LIMIT + 1)] == [
        1,
        1,
        1,
        50,
        MAX_LIMIT,
        MAX_LIMIT,
    ]


def test_a_full_page_gives_its_last_id_as_the_next_cursor() -> None:
    assert next_before_id([9, 7, 4], 3) == 4
    assert next_before_id([9, 7, 4], 4) is None  # not full: the last page
    assert next_before_id([], 3) is None
    assert next_before_id(list(range(MAX_LIMIT, 0, -1)), MAX_LIMIT + 50) == 1  # clamped limit
