"""Plans are pure: asserted by equality, including the no-op plans."""

from __future__ import annotations

from onbox_agent.plans import (
    ContainerRef,
    Step,
    plan_deploy,
    plan_replace,
    plan_restart,
    plan_start,
    plan_stop,
)

OLD = ContainerRef("web--g1-aaaa", running=True)
STANDBY = ContainerRef("web--aaaaaaaaaaaa-bbbb", running=False)
ANCIENT = ContainerRef("web--cccccccccccc-dddd", running=False)
UP = [Step("start", "candidate"), Step("wait_healthy", "candidate"), Step("attach", "candidate")]


def test_replace_starts_the_candidate_beside_the_running_one() -> None:
    assert plan_replace([OLD], host_ports=False) == [
        Step("ensure_image", "candidate"),
        Step("create", "candidate"),
        *UP,
        Step("detach", OLD.name),
        Step("stop", OLD.name),
        Step("remove", OLD.name),
    ]


def test_replace_with_host_ports_stops_first() -> None:
    assert plan_replace([OLD], host_ports=True) == [
        Step("stop", OLD.name),
        Step("ensure_image", "candidate"),
        Step("create", "candidate"),
        *UP,
        Step("remove", OLD.name),
    ]


def test_first_deploy_has_nothing_to_remove() -> None:
    assert plan_replace([], host_ports=False) == [
        Step("ensure_image", "candidate"),
        Step("create", "candidate"),
        *UP,
    ]


def test_stopped_leftovers_are_removed_without_a_stop() -> None:
    stale = ContainerRef("web--g0-bbbb", running=False)
    plan = plan_replace([OLD, stale], host_ports=False)
    assert Step("remove", stale.name) in plan and Step("stop", stale.name) not in plan


def test_deploy_keeps_the_old_container_stopped_and_retires_older_ones() -> None:
    assert plan_deploy([OLD, ANCIENT], standby=None, host_ports=False) == [
        Step("ensure_image", "candidate"),
        Step("create", "candidate"),
        *UP,
        Step("detach", OLD.name),
        Step("stop", OLD.name),
        Step("retire", ANCIENT.name),
    ]


def test_rollback_to_a_standby_starts_it_instead_of_creating() -> None:
    assert plan_deploy([OLD, STANDBY, ANCIENT], standby=STANDBY.name, host_ports=False) == [
        Step("reuse", STANDBY.name),
        *UP,
        Step("detach", OLD.name),
        Step("stop", OLD.name),
        Step("retire", ANCIENT.name),
    ]


def test_start_and_stop_are_no_ops_when_already_there() -> None:
    assert plan_start(OLD) == []
    assert plan_stop(ContainerRef("web--g1-aaaa", running=False)) == []
    assert plan_stop(None) == []


def test_start_a_stopped_container_waits_for_health() -> None:
    stopped = ContainerRef("web--g1-aaaa", running=False)
    assert plan_start(stopped) == [
        Step("start", stopped.name),
        Step("wait_healthy", stopped.name),
        Step("attach", stopped.name),
    ]
    assert plan_stop(OLD) == [Step("stop", OLD.name)]
    assert plan_restart(OLD) == [Step("restart", OLD.name), Step("wait_healthy", OLD.name)]
