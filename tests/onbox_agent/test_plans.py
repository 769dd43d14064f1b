"""Plans are pure: asserted by equality, including the no-op plans."""

from __future__ import annotations

from onbox_agent.plans import ContainerRef, Step, plan_replace, plan_restart, plan_start, plan_stop

OLD = ContainerRef("web--g1-aaaa", running=True)


def test_replace_starts_the_candidate_beside_the_running_one() -> None:
    assert plan_replace([OLD], host_ports=False) == [
        Step("ensure_image", "candidate"),
        Step("create", "candidate"),
        Step("start", "candidate"),
        Step("wait_healthy", "candidate"),
        Step("detach", OLD.name),
        Step("stop", OLD.name),
        Step("remove", OLD.name),
    ]


def test_replace_with_host_ports_stops_first() -> None:
    assert plan_replace([OLD], host_ports=True) == [
        Step("ensure_image", "candidate"),
        Step("stop", OLD.name),
        Step("create", "candidate"),
        Step("start", "candidate"),
        Step("wait_healthy", "candidate"),
        Step("remove", OLD.name),
    ]


def test_first_deploy_has_nothing_to_remove() -> None:
    assert plan_replace([], host_ports=False) == [
        Step("ensure_image", "candidate"),
        Step("create", "candidate"),
        Step("start", "candidate"),
        Step("wait_healthy", "candidate"),
    ]


def test_stopped_leftovers_are_removed_without_a_stop() -> None:
    stale = ContainerRef("web--g0-bbbb", running=False)
    plan = plan_replace([OLD, stale], host_ports=False)
    assert Step("remove", stale.name) in plan and Step("stop", stale.name) not in plan


def test_start_and_stop_are_no_ops_when_already_there() -> None:
    assert plan_start(OLD) == []
    assert plan_stop(ContainerRef("web--g1-aaaa", running=False)) == []
    assert plan_stop(None) == []


def test_start_a_stopped_container_waits_for_health() -> None:
    stopped = ContainerRef("web--g1-aaaa", running=False)
    assert plan_start(stopped) == [Step("start", stopped.name), Step("wait_healthy", stopped.name)]
    assert plan_stop(OLD) == [Step("stop", OLD.name)]
    assert plan_restart(OLD) == [Step("restart", OLD.name), Step("wait_healthy", OLD.name)]
