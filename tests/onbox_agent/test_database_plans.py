"""The database provisioning and repair plans, pure: what exists in, steps out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from matrx_ship.errors import Conflict
from onbox_agent.databases import (
    AppObserved,
    DbObserved,
    plan_provision,
    plan_repair,
    scram_matches,
    scram_verifier,
)
from onbox_agent.databases.repair import split_at
from onbox_agent.steps import Step

NOTHING = DbObserved("shop-db", "shop-db-data", "shop-db-net", "pg:15")
EVERYTHING = replace(
    NOTHING,
    has_network=True,
    has_volume=True,
    state="running",
    on_network=True,
    ready=True,
    password_current=True,
    readonly_role=True,
)
SERVER = [
    Step("wait_ready", "shop-db"),
    Step("set_password", "shop-db"),
    Step("grant_readonly", "shop-db"),
]
APP_OK = AppObserved("shop", "shop-1", url_current=True, on_network=True)


def test_everything_in_place_is_the_no_op_plan() -> None:
    assert plan_provision(EVERYTHING) == []


def test_nothing_yet_makes_everything_in_order_image_first() -> None:
    assert plan_provision(NOTHING) == [
        Step("ensure_image", "pg:15"),
        Step("create_network", "shop-db-net"),
        Step("create_volume", "shop-db-data"),
        Step("create_container", "shop-db"),
        *SERVER,
    ]


def test_a_removed_container_is_created_again_on_the_kept_volume() -> None:
    gone = replace(EVERYTHING, state=None, on_network=False, ready=False)
    assert plan_provision(gone) == [
        Step("ensure_image", "pg:15"),
        Step("create_container", "shop-db"),
        *SERVER,
    ]


def test_a_stopped_detached_container_is_started_and_connected() -> None:
    stopped = replace(EVERYTHING, state="exited", on_network=False, ready=False)
    assert plan_provision(stopped) == [
        Step("start_container", "shop-db"),
        Step("connect_container", "shop-db"),
        *SERVER,
    ]


def test_a_running_server_that_is_not_ready_yet_is_waited_for() -> None:
    assert plan_provision(replace(EVERYTHING, ready=False)) == SERVER


def test_only_what_is_out_of_sync_is_set_on_a_ready_server() -> None:
    assert plan_provision(replace(EVERYTHING, password_current=False)) == [
        Step("set_password", "shop-db")
    ]
    assert plan_provision(replace(EVERYTHING, readonly_role=False)) == [
        Step("grant_readonly", "shop-db")
    ]


def test_a_foreign_container_holding_the_name_is_refused() -> None:
    with pytest.raises(Conflict) as err:
        plan_provision(replace(NOTHING, foreign="none"))
    assert err.value.code == "name_taken" and "shop-db" in err.value.message


def test_repair_with_everything_in_place_is_the_no_op_plan() -> None:
    assert plan_repair(EVERYTHING, APP_OK) == []


def test_repair_joins_a_detached_app_to_the_network() -> None:
    detached = replace(APP_OK, on_network=False)
    assert plan_repair(EVERYTHING, detached) == [Step("join_app", "shop")]


@pytest.mark.parametrize(
    "app",
    [AppObserved("shop"), replace(APP_OK, url_current=False)],
    ids=["no app container", "stale url"],
)
def test_repair_recreates_an_app_without_the_current_url_then_joins_it(
    app: AppObserved,
) -> None:
    assert plan_repair(EVERYTHING, app) == [
        Step("recreate_app", "shop"),
        Step("join_app", "shop"),
    ]


def test_repair_provisions_the_database_before_the_app() -> None:
    stopped = replace(EVERYTHING, state="exited", ready=False)
    assert plan_repair(stopped, replace(APP_OK, on_network=False)) == [
        Step("start_container", "shop-db"),
        *SERVER,
        Step("join_app", "shop"),
    ]


def test_the_app_is_recreated_after_the_steps_under_the_lock() -> None:
    steps = plan_repair(replace(EVERYTHING, ready=False), AppObserved("shop"))
    assert split_at(steps, "recreate_app") == (
        SERVER,
        [Step("recreate_app", "shop"), Step("join_app", "shop")],
    )
    assert split_at(SERVER, "recreate_app") == (SERVER, [])


def test_a_scram_verifier_matches_its_password_only() -> None:
    verifier = scram_verifier("hunter2-secret")
    assert scram_matches("hunter2-secret", verifier)
    assert not scram_matches("hunter3-secret", verifier)
    assert not scram_matches("hunter2-secret", None)
    assert not scram_matches("hunter2-secret", "md5" + "0" * 32)
