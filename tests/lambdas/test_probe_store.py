"""Probe records on the real PostgreSQL through pg8000: states, the lease, the ladder."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from pydantic import ValidationError

from lambdas.common.ladder import (
    MANAGER_LADDER,
    Step,
    TargetState,
    Thresholds,
    last_healthy_release,
    next_step,
    state_for,
)
from lambdas.common.records import ProbeResult, ProbeStore
from lambdas.common.statestore import Pg8000Store, audit_step, open_store, pg8000_url
from lambdas.health_probe.settings import ProbeSettings
from matrx_ship.store import AuditQuery, Store
from matrx_ship.store.store import utcnow

FAIL = ProbeResult(target="manager", kind="manager", ok=False, error="HTTP 502")
OK = ProbeResult(target="manager", kind="manager", ok=True)


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    s = open_store(pg_url)
    s.migrate()
    yield s
    s.dispose()


@pytest.fixture
def probes(store: Store) -> ProbeStore:
    return ProbeStore(store.engine)


def record(probes: ProbeStore, result: ProbeResult) -> TargetState:
    status = probes.record(result, run_id="r1", thresholds=Thresholds(1, 2))
    assert status is not None
    return status.state


def test_states_follow_consecutive_failures_and_one_success_heals() -> None:
    t = Thresholds(degraded_after=1, down_after=3)
    assert [state_for(n, t).value for n in range(5)] == [
        "healthy",
        "degraded",
        "degraded",
        "down",
        "down",
    ]


def test_the_manager_ladder_is_alert_restart_rollback_human_then_nothing() -> None:
    taken, order = 0, []
    while (step := next_step(taken, MANAGER_LADDER)) is not None:
        order.append(step.name)
        taken = step
    assert order == ["alert", "restart", "rollback", "human"]
    assert next_step(Step.human, MANAGER_LADDER) is None


def test_the_rollback_target_is_the_newest_healthy_release_other_than_the_running_one() -> None:
    deployments = [
        {"to_release": "rel_c", "outcome": "succeeded", "finished_at": "2026-11-03"},
        {"to_release": "rel_b", "outcome": "succeeded", "finished_at": "2026-11-02"},
        {"to_release": "rel_d", "outcome": "failed", "finished_at": "2026-11-04"},
        {"to_release": "rel_a", "outcome": "succeeded", "finished_at": "2026-11-01"},
    ]
    assert last_healthy_release(deployments, current="rel_c") == "rel_b"
    assert last_healthy_release(deployments, current="rel_d") == "rel_c"
    assert last_healthy_release([], current="rel_c") is None


def test_a_libpq_url_becomes_a_pg8000_url_with_tls_as_sslmode_says() -> None:
    url, args = pg8000_url("postgresql://u:p@db.example.co:6543/postgres?sslmode=require")
    assert url == "postgresql+pg8000://u:p@db.example.co:6543/postgres"
    ctx = args["ssl_context"]
    assert ctx.verify_mode == ssl.CERT_NONE and ctx.check_hostname is False
    _, full = pg8000_url("postgres://u@h/db?sslmode=verify-full&application_name=x")
    assert full["ssl_context"].check_hostname is True
    assert "ssl_context" not in pg8000_url("postgresql+psycopg://postgres@127.0.0.1:5/t")[1]
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        pg8000_url("mysql://u@h/db")


def test_results_move_the_state_and_are_kept(store: Store, probes: ProbeStore) -> None:
    assert isinstance(store, Pg8000Store)  # what the Lambda uses: no compiled driver
    assert [record(probes, r) for r in (FAIL, FAIL, FAIL, OK)] == [
        "degraded",
        "down",
        "down",
        "healthy",
    ]
    assert [r["status"] for r in probes.results("manager")] == ["ok", "fail", "fail", "fail"]
    skipped = ProbeResult(target="routes", kind="routes", ok=None, error="cannot list")
    assert probes.record(skipped, run_id="r1", thresholds=Thresholds()) is None
    assert probes.target("routes") is None and probes.results("routes")[0]["status"] == "skipped"


def test_only_one_run_takes_each_step_and_the_next_waits_for_the_gap(probes: ProbeStore) -> None:
    record(probes, FAIL)
    record(probes, FAIL)
    won = []
    barrier = threading.Barrier(8)

    def race(owner: str) -> None:
        barrier.wait(10)
        if probes.acquire("manager", taken=0, owner=owner, lease_s=60, min_gap_s=5):
            won.append(owner)

    threads = [threading.Thread(target=race, args=(f"run{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(won) == 1
    assert not probes.complete("manager", owner="someone-else", step=Step.alert, escalation={})
    assert probes.complete("manager", owner=won[0], step=Step.alert, escalation={"steps": []})
    status = probes.target("manager")
    assert status is not None and status.escalation_step == Step.alert
    assert not probes.acquire("manager", taken=1, owner="b", lease_s=60, min_gap_s=5)  # too soon
    later = utcnow() + timedelta(seconds=6)
    assert probes.acquire("manager", taken=1, owner="b", lease_s=60, min_gap_s=5, now=later)


def test_a_lease_left_by_a_dead_run_expires(probes: ProbeStore) -> None:
    record(probes, FAIL)
    record(probes, FAIL)
    assert probes.acquire("manager", taken=0, owner="dead", lease_s=30, min_gap_s=0)
    assert not probes.acquire("manager", taken=0, owner="next", lease_s=30, min_gap_s=0)
    after = utcnow() + timedelta(seconds=31)
    assert probes.acquire("manager", taken=0, owner="next", lease_s=30, min_gap_s=0, now=after)


def test_recovery_ends_the_escalation_once(probes: ProbeStore) -> None:
    record(probes, FAIL)
    record(probes, FAIL)
    assert probes.acquire("manager", taken=0, owner="a", lease_s=30, min_gap_s=0)
    probes.complete("manager", owner="a", step=Step.alert, escalation={"steps": ["alert"]})
    assert not probes.reset("manager", taken=1)  # still down
    record(probes, OK)
    assert probes.reset("manager", taken=1)
    assert not probes.reset("manager", taken=1)
    status = probes.target("manager")
    assert status is not None and (status.escalation_step, status.escalation) == (0, {})


def test_steps_are_audited_once_per_key(store: Store) -> None:
    for _ in range(2):
        audit_step(store, action="probe.alert", target="manager", ok=True, detail={}, key="k1")
    events = store.list_audit(AuditQuery(actor="deploy-tier"))
    assert [(e.action, e.target, e.outcome) for e in events] == [
        ("probe.alert", "manager", "allowed")
    ]


def test_settings_refuse_a_missing_token_source_and_an_unpinned_break_glass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = {
        "MATRX_AGENT_URL": "https://agent.example.com",
        "MATRX_ALARM_TOPIC_ARN": "arn:aws:sns:us-east-1:1:t",
        "MATRX_DATABASE_URL_SECRET_ARN": "arn:db",
    }
    for key, value in base.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match="MATRX_AGENT_TOKEN_SECRET_ARN"):
        ProbeSettings()  # type: ignore[call-arg]
    monkeypatch.setenv("MATRX_AGENT_TOKEN_SECRET_ARN", "arn:token")
    monkeypatch.setenv("MATRX_BREAKGLASS_URL", "https://203.0.113.7:8443")
    with pytest.raises(ValidationError, match="MATRX_BREAKGLASS_CERT_SHA256"):
        ProbeSettings()  # type: ignore[call-arg]
    monkeypatch.setenv("MATRX_BREAKGLASS_CERT_SHA256", "AB:" * 31 + "AB")
    settings = ProbeSettings()  # type: ignore[call-arg]
    assert settings.breakglass_cert_sha256 == "ab" * 32
    assert (settings.interval_s, settings.thresholds, settings.budget_s) == (
        10.0,
        Thresholds(1, 2),
        55.0,
    )
