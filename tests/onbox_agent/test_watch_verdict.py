"""The deploy watch's verdict, by equality: which samples degrade a release, and why."""

from __future__ import annotations

from matrx_ship.models import DeployWatch
from onbox_agent.watch import Sample, verdict

WATCH = DeployWatch(unhealthy_checks=3, max_restarts=0)
UP = Sample(state="running", health="healthy", probe_ok=True)


def test_a_healthy_release_is_not_degraded() -> None:
    assert verdict([UP] * 10, WATCH) is None
    assert verdict([], WATCH) is None


def test_failed_checks_in_a_row_degrade_it_but_a_blip_does_not() -> None:
    bad = Sample(state="running", health="healthy", probe_ok=False)
    assert verdict([UP, bad, bad, UP, bad], WATCH) is None
    assert verdict([UP, bad, bad, bad], WATCH) == "it failed its health check 3 times in a row"
    unhealthy = Sample(state="running", health="unhealthy", probe_ok=None)
    assert verdict([UP, unhealthy, unhealthy, unhealthy], WATCH) is not None


def test_an_exit_a_restart_or_an_oom_kill_degrades_it_at_once() -> None:
    assert verdict([UP, Sample(state="exited", exit_code=4)], WATCH) == (
        "the container exited with code 4"
    )
    restarted = Sample(state="running", health="healthy", probe_ok=True, restarts=3)
    assert verdict([UP, restarted], WATCH, restarts_at_start=2) == (
        "the container restarted 1 time(s) (at most 0)"
    )
    assert verdict([UP, restarted], DeployWatch(max_restarts=1), restarts_at_start=2) is None
    oom = Sample(state="exited", exit_code=137, oom=True)
    assert verdict([UP, oom], WATCH) == "the container was killed for lack of memory (OOM)"
