"""The reconcile plan by equality: store state + host state -> steps."""

from __future__ import annotations

from onbox_agent.reconcile.plan import Found, Release, Wanted, plan_reconcile
from onbox_agent.reconcile.run import NETWORKS, tiers
from onbox_agent.steps import Step

SHIP = Wanted(
    name="ship",
    networks=("proxy",),
    volumes=("ship-files",),
    database=True,
    routes=True,
    release=Release("rel_2", "matrx/ship:rel_2", "b" * 40, archived=True),
    buildable=True,
    database_backup="bk_9",
    volume_backups={"ship-files": "bk_9"},
)
MANAGER = Wanted(name="manager", kind="manager", networks=("proxy",), routes=True)
TRAEFIK = Wanted(name="traefik", kind="infra", networks=("proxy",), volumes=("acme",))

HEALTHY = Found(
    networks=frozenset({"proxy"}),
    volumes=frozenset({"ship-files", "acme"}),
    images=frozenset({"matrx/ship:rel_2"}),
    database_volumes=frozenset({"ship"}),
    databases_running=frozenset({"ship"}),
    running={"ship": "rel_2", "manager": "", "traefik": ""},
    route_files=frozenset({"ship", "manager"}),
)


def test_a_host_that_matches_the_store_needs_nothing() -> None:
    assert plan_reconcile([SHIP, MANAGER, TRAEFIK], HEALTHY) == []


def test_nothing_in_the_store_needs_nothing() -> None:
    assert plan_reconcile([], Found()) == []


def test_a_wiped_host_comes_back_in_dependency_order_data_first() -> None:
    assert plan_reconcile([MANAGER, SHIP, TRAEFIK], Found()) == [
        Step("create_network", "proxy"),
        Step("start", "traefik", "spec image"),
        Step("load_image", "ship", "rel_2"),
        Step("restore_database", "ship", "bk_9"),
        Step("restore_volume", "ship/ship-files", "bk_9"),
        Step("start", "ship", "rel_2"),
        Step("start", "manager", "spec image"),
    ]


def test_a_service_running_the_wrong_release_is_started_at_its_live_release() -> None:
    found = Found(**{**HEALTHY.__dict__, "running": {**HEALTHY.running, "ship": "rel_1"}})
    assert plan_reconcile([SHIP], found) == [Step("start", "ship", "rel_2")]


def test_a_missing_route_file_is_rewritten_alone() -> None:
    found = Found(**{**HEALTHY.__dict__, "route_files": frozenset({"ship"})})
    assert plan_reconcile([SHIP, MANAGER], found) == [Step("write_routes", "manager")]


def test_a_stopped_database_with_its_volume_is_started_not_restored() -> None:
    found = Found(**{**HEALTHY.__dict__, "databases_running": frozenset()})
    assert plan_reconcile([SHIP], found) == [Step("start_database", "ship")]


def test_a_database_without_a_good_backup_starts_empty_and_says_so() -> None:
    fresh = Wanted(name="new", database=True)
    assert plan_reconcile([fresh], Found()) == [
        Step("create_database", "new", "no good backup: starts empty"),
        Step("start", "new", "spec image"),
    ]


def test_an_image_without_archive_is_rebuilt_at_its_commit() -> None:
    built = Wanted(
        name="api", release=Release("rel_5", "matrx/api:rel_5", "c" * 40), buildable=True
    )
    assert plan_reconcile([built], Found()) == [
        Step("rebuild_release", "api", "rel_5 at cccccccccccc"),
        Step("start", "api", "rel_5"),
    ]


def test_a_service_that_cannot_come_back_is_reported_and_the_others_still_come_back() -> None:
    lost = Wanted(name="lost", release=Release("rel_7", "matrx/lost:rel_7"))
    plain = Wanted(name="plain")
    steps = plan_reconcile([lost, plain], Found())
    assert [s.action for s in steps] == ["cannot_restore", "start"]
    assert steps[0].target == "lost" and "no archive" in steps[0].detail
    assert steps[1] == Step("start", "plain", "spec image")


def test_a_volume_with_no_archive_is_left_to_the_engine_to_create() -> None:
    w = Wanted(name="cache", volumes=("tmp",))
    assert plan_reconcile([w], Found()) == [Step("start", "cache", "spec image")]


def test_services_of_one_tier_come_back_side_by_side_after_the_tier_before() -> None:
    steps = plan_reconcile([MANAGER, SHIP, TRAEFIK, Wanted(name="api")], Found())
    kinds = {"manager": "manager", "ship": "app", "traefik": "infra", "api": "app"}
    assert [[name for name, _ in tier] for tier in tiers(steps, kinds)] == [
        [NETWORKS],
        ["traefik"],
        ["api", "ship"],
        ["manager"],
    ]
    [[(_, ship_steps)]] = [[t for t in tier if t[0] == "ship"] for tier in tiers(steps, kinds)[2:3]]
    assert [s.action for s in ship_steps] == [
        "load_image",
        "restore_database",
        "restore_volume",
        "start",
    ]
    assert tiers([], kinds) == []
