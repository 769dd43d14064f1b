"""Escalation: at most one step per target a round, up the ladder (restart, rollback, page a
person), each audited in the store and idempotent across overlapping invocations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from lambdas.common.alerts import Alert, publish
from lambdas.common.ladder import (
    ALERT_ONLY,
    MANAGER_LADDER,
    Step,
    TargetState,
    last_healthy_release,
    next_step,
)
from lambdas.common.reach import AgentReach
from lambdas.common.records import TargetStatus
from lambdas.common.statestore import audit_step
from lambdas.health_probe.checks import agent_view
from lambdas.health_probe.runner import JOB_RUNNING, MIN_ACTION_S, Runner, StepOutcome
from matrx_ship.client import AgentClient, AgentError

logger = Logger(service="health_probe", child=True)

# --- escalation --------------------------------------------------------------------------------


def escalate(r: Runner, reach: AgentReach, statuses: dict[str, TargetStatus]) -> list[StepOutcome]:
    """At most one step per target: the agent's alert, the manager's ladder, recoveries."""
    steps = []
    if "agent" in statuses:
        steps.append(climb(r, statuses["agent"], ALERT_ONLY, lambda st: agent_alert(r, reach, st)))
    if "manager" in statuses:
        steps.append(
            climb(r, statuses["manager"], MANAGER_LADDER, lambda st: manager_step(r, reach, st))
        )
    return [s for s in steps if s is not None]


def climb(
    r: Runner,
    status: TargetStatus,
    ladder: tuple[Step, ...],
    take: Callable[[TargetStatus], StepOutcome],
) -> StepOutcome | None:
    """Take the target's next step if this run wins its lease; recover a healthy one."""
    if status.state is TargetState.healthy:
        return recover(r, status) if status.escalation_step else None
    step = next_step(status.escalation_step, ladder)
    if status.state is not TargetState.down or step is None:
        return None
    owner = r.run_id
    gap = r.settings.interval_s / 2
    if not r.probes.acquire(
        status.target,
        taken=status.escalation_step,
        owner=owner,
        lease_s=r.settings.lease_s,
        min_gap_s=gap,
    ):
        return None
    try:
        outcome = take(status)
    except Exception:
        r.probes.release(status.target, owner=owner)
        raise
    if outcome.hold:
        r.probes.release(status.target, owner=owner)
        return outcome
    history = [*status.escalation.get("steps", []), {"step": outcome.step, "ok": outcome.ok}]
    extra = {k: v for k, v in outcome.detail.items() if k == "job_id"}
    r.probes.complete(
        status.target, owner=owner, step=Step[outcome.step], escalation={"steps": history, **extra}
    )
    _audit(r, status, outcome)
    return outcome


def _audit(r: Runner, status: TargetStatus, outcome: StepOutcome) -> None:
    target = r.settings.manager_service if status.target == "manager" else status.target
    audit_step(
        r.store,
        action=f"probe.{outcome.step}",
        target=target,
        ok=outcome.ok,
        detail={"probe_target": status.target, "run_id": r.run_id, **outcome.detail},
        key=f"{status.target}|{status.state_since.isoformat()}|{outcome.step}",
    )


def _alert(r: Runner, subject: str, lines: list[str], **attributes: str) -> dict[str, Any]:
    """Publish to the alarm topic; a failed publish is reported, never raised."""
    alert = Alert(
        subject=f"[matrx {r.settings.host}] {subject}", lines=lines, attributes=attributes
    )
    try:
        return {
            "message_id": publish(r.sns, r.settings.alarm_topic_arn, alert),
            "subject": alert.subject,
        }
    except Exception as exc:
        logger.exception("could not publish an alert")
        return {"alert_error": f"{type(exc).__name__}: {exc}"[:300], "subject": alert.subject}


def agent_alert(r: Runner, reach: AgentReach, status: TargetStatus) -> StepOutcome:
    """The agent target's only step: say what is broken, with the runbook that fits."""
    s = r.settings
    texts = {
        "proxy_broken": (
            "Proxy down: the agent answers only on break-glass",
            s.runbook("traefik-routing-broken"),
        ),
        "host_unreachable": ("Host unreachable: disaster recovery", s.dr_runbook_url),
        "agent_down": ("Agent down: the host answers, the agent does not", s.runbook("agent-down")),
        "not_ready": ("Agent not ready", s.runbook("agent-down")),
    }
    subject, runbook = texts.get(reach.verdict, ("Agent failing", s.runbook("agent-down")))
    lines = [
        f"The agent of {s.host} failed {status.consecutive_failures} probes in a row "
        f"(since {status.state_since:%Y-%m-%d %H:%M:%S} UTC).",
        f"Public path {s.agent_url}: {reach.detail['public'].get('error') or 'answers'}.",
    ]
    if "breakglass" in reach.detail:
        glass = reach.detail["breakglass"]
        lines.append(f"Break-glass path {s.breakglass_url}: {glass.get('error') or 'answers'}.")
    lines.append(f"Runbook: {runbook}")
    sent = _alert(r, subject, lines, target="agent", step="alert", verdict=reach.verdict)
    return StepOutcome(
        "agent",
        "alert",
        "message_id" in sent,
        {**sent, "verdict": reach.verdict, "runbook": runbook},
    )


def manager_step(r: Runner, reach: AgentReach, status: TargetStatus) -> StepOutcome:
    """The manager's next step: alert, restart, roll back, then tell a human. Nothing while
    the host does not answer at all: the agent's disaster-recovery alert covers that."""
    step = next_step(status.escalation_step, MANAGER_LADDER) or Step.human
    waiting = _waiting(r, reach, step)
    if waiting:
        return StepOutcome("manager", step.name, False, {"waiting": waiting}, hold=True)
    if step is Step.alert:
        return manager_alert(r, reach, status)
    if step is Step.human:
        return needs_human(r, reach, status)
    return restart(r, reach, status) if step is Step.restart else rollback(r, reach, status)


def _waiting(r: Runner, reach: AgentReach, step: Step) -> str | None:
    """Why the step cannot be taken this round, or None."""
    if reach.verdict == "host_unreachable":
        return "the host does not answer: see the agent's disaster-recovery alert"
    if step in (Step.restart, Step.rollback):
        if reach.client is None:
            return "the agent does not answer: see the agent alert"
        if r.left() < MIN_ACTION_S:
            return "too little time left in this invocation"
    return None


def manager_alert(r: Runner, reach: AgentReach, status: TargetStatus) -> StepOutcome:
    s = r.settings
    lines = [
        f"The Server Manager of {s.host} failed {status.consecutive_failures} probes in a row "
        f"(since {status.state_since:%Y-%m-%d %H:%M:%S} UTC).",
        f"Console {s.manager_console_url or '(not set)'}; agent: {reach.verdict}.",
        "Next: the probe restarts it through the agent, then rolls back to the last healthy "
        "release, then asks for a human.",
        f"Runbook: {s.runbook_url}",
    ]
    sent = _alert(r, "Manager down: restarting it", lines, target="manager", step="alert")
    return StepOutcome("manager", "alert", "message_id" in sent, {**sent, "verdict": reach.verdict})


def restart(r: Runner, reach: AgentReach, status: TargetStatus) -> StepOutcome:
    """Restart the manager through the agent (start it when it has no container)."""
    name, budget = r.settings.manager_service, min(r.settings.action_timeout_s, r.left() - 3)
    client = reach.action_client(r.token, timeout=budget + 10)
    assert client is not None
    detail: dict[str, Any] = {"path": reach.path, "service": name}
    try:
        try:
            answer = client.lifecycle(name, "restart", timeout=round(budget))
        except AgentError as exc:
            if exc.code != "no_container":
                raise
            answer = client.lifecycle(name, "start", timeout=round(budget))
        health = answer.get("health") or {}
        ok = bool(health.get("healthy"))
        detail.update(healthy=ok, seconds=health.get("seconds"))
    except AgentError as exc:
        ok = False
        detail.update(error=exc.message[:300], code=exc.code, status=exc.status)
    finally:
        client.close()
    said = f"healthy again in {detail.get('seconds')} s" if ok else f"failed: {detail.get('error')}"
    sent = _alert(
        r,
        f"Manager restarted: {'healthy' if ok else 'still down'}",
        [
            f"The probe asked the agent ({reach.path} path) to restart '{name}': {said}.",
            "Next if it stays down: roll back to the last healthy release.",
        ],
        target="manager",
        step="restart",
    )
    return StepOutcome("manager", "restart", ok, {**detail, **sent})


def rollback(r: Runner, reach: AgentReach, status: TargetStatus) -> StepOutcome:
    """Roll the manager back to the last release that was healthy, and wait for the job."""
    name = r.settings.manager_service
    wait = max(1.0, min(r.settings.rollback_wait_s, r.left() - 3))
    client = reach.action_client(r.token, timeout=30)
    assert client is not None
    current = agent_view(client, name).get("release")
    detail: dict[str, Any] = {"path": reach.path, "service": name, "from_release": current}
    try:
        release = last_healthy_release(_deployments(client, name), current)
        detail["to_release"] = release
        job = client.rollback(name, release)
        detail["job_id"] = job.get("id")
        job = client.wait_job(str(job["id"]), timeout=wait)
        detail.update(job_status=job.get("status"), job_error=job.get("error"))
        ok = job.get("status") == "succeeded"
    except AgentError as exc:
        ok = False
        detail.update(error=exc.message[:300], code=exc.code, status=exc.status)
    finally:
        client.close()
    running = detail.get("code") == "timeout"
    said = (
        "still running"
        if running
        else ("done" if ok else f"failed: {detail.get('error') or detail.get('job_error')}")
    )
    sent = _alert(
        r,
        f"Manager rollback: {said}"[:60],
        [
            f"The probe asked the agent to roll '{name}' back from {current or '?'} to "
            f"{detail.get('to_release') or 'the previous release'}: {said}.",
            "Next if it stays down: a human is asked to take over.",
        ],
        target="manager",
        step="rollback",
    )
    return StepOutcome("manager", "rollback", ok, {**detail, **sent})


def _deployments(client: AgentClient, name: str) -> list[dict[str, Any]]:
    try:
        return client.deployments(service=name)
    except AgentError as exc:
        if exc.status == 404:
            return []
        raise


def needs_human(r: Runner, reach: AgentReach, status: TargetStatus) -> StepOutcome:
    """The last step: the manager is still down after restart and rollback."""
    job_id = status.escalation.get("job_id")
    if job_id and reach.client is not None and _job_running(reach.client, str(job_id)):
        return StepOutcome(
            "manager", "human", False, {"waiting": f"rollback job {job_id} still runs"}, hold=True
        )
    s = r.settings
    runbook = s.runbook_url
    taken = ", ".join(
        f"{x['step']} ({'ok' if x['ok'] else 'failed'})" for x in status.escalation.get("steps", [])
    )
    sent = _alert(
        r,
        "Manager down: needs a human",
        [
            f"The Server Manager of {s.host} is still down after: {taken or 'nothing'}.",
            f"Down since {status.state_since:%Y-%m-%d %H:%M:%S} UTC; agent: {reach.verdict}.",
            "The probe takes no further step until it is healthy again.",
            f"Runbook: {runbook}",
        ],
        target="manager",
        step="human",
    )
    return StepOutcome("manager", "human", "message_id" in sent, {**sent, "runbook": runbook})


def _job_running(client: AgentClient, job_id: str) -> bool:
    try:
        return client.job(job_id).get("status") in JOB_RUNNING
    except AgentError:
        return False


def recover(r: Runner, status: TargetStatus) -> StepOutcome | None:
    """A target that had escalated is healthy again: end its escalation, once, and say so."""
    if not r.probes.reset(status.target, taken=status.escalation_step):
        return None
    taken = ", ".join(x["step"] for x in status.escalation.get("steps", []))
    what = "Manager" if status.target == "manager" else "Agent"
    sent = _alert(
        r,
        f"{what} recovered",
        [
            f"{status.target} of {r.settings.host} answers again (steps taken: {taken or 'none'}).",
        ],
        target=status.target,
        step="recovered",
    )
    outcome = StepOutcome(status.target, "recovered", True, sent)
    _audit(r, status, outcome)
    return outcome
