"""The outbox never blocks on one record: the store away stops a flush, a refusal sets the
record aside with its reason, and a person can see and retry what was set aside."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from matrx_ship.outbox import Outbox
from matrx_ship.store.store import unreachable


class Store:
    def __init__(self) -> None:
        self.got: list[str] = []
        self.away = False
        self.refuse = {"bad"}

    def deliver(self, kind: str, key: str, payload: dict[str, Any]) -> None:
        if self.away:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))
        if key in self.refuse:
            raise ValueError(f"cannot take {payload}")
        self.got.append(key)


@pytest.fixture
def box(tmp_path: Path) -> Outbox:
    out = Outbox(tmp_path / "outbox.db")
    for key in ("a", "bad", "c"):
        out.append("audit", key, {"n": key})
    return out


def test_a_refused_record_is_set_aside_and_the_ones_behind_it_still_go(box: Outbox) -> None:
    store = Store()
    assert box.flush(store.deliver, unreachable) == 2
    assert store.got == ["a", "c"] and len(box) == 0
    [aside] = box.set_aside()
    assert (aside["kind"], aside["key"]) == ("audit", "bad")
    assert aside["reason"] == "ValueError: cannot take {'n': 'bad'}"


def test_the_store_being_away_stops_the_flush_and_keeps_everything_in_order(box: Outbox) -> None:
    store = Store()
    store.away = True
    assert box.flush(store.deliver, unreachable) == 0
    assert len(box) == 3 and box.set_aside() == []
    store.away, store.refuse = False, set()
    assert box.flush(store.deliver, unreachable) == 3 and store.got == ["a", "bad", "c"]


def test_set_aside_records_are_retried_once_the_cause_is_fixed(box: Outbox) -> None:
    store = Store()
    box.flush(store.deliver, unreachable)
    store.refuse = set()
    assert box.retry_set_aside() == 1 and box.set_aside() == []
    assert box.flush(store.deliver, unreachable) == 1 and store.got == ["a", "c", "bad"]


def test_only_connection_failures_count_as_the_store_being_away() -> None:
    assert unreachable(OperationalError("x", {}, ConnectionRefusedError()))
    assert unreachable(ConnectionResetError())
    assert not unreachable(ValueError("bad payload"))
