"""The health probe's work: probe every target a few times a minute, record, escalate.

    python -m lambdas.health_probe.probe --once       # one round; its report as JSON
    python -m lambdas.health_probe.probe              # one invocation: rounds for its budget
    python -m lambdas.health_probe.probe --schedule   # an invocation every rate, like EventBridge
    python -m lambdas.health_probe.probe --migrate    # apply the store's migrations first

Targets: `agent` (public /healthz and authenticated /readyz; the break-glass path with its
pinned certificate tells a broken proxy from a dead host), `manager` (the console's
public URL, with the agent's view of the manager service) and `route:<url>` for each
public route the agent lists. Each round records every result, moves each target's
state, takes at most one escalation step per target, and adds the metrics
`ManagerDown` and `ProbeFailures`.
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import boto3
import httpx
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from lambdas.common.alerts import Alert, publish
from lambdas.common.ladder import (
    ALERT_ONLY,
    MANAGER_LADDER,
    Step,
    TargetState,
    last_healthy_release,
    next_step,
)
from lambdas.common.reach import AgentReach, reach_agent
from lambdas.common.records import ProbeResult, ProbeStore, TargetStatus
from lambdas.common.statestore import audit_step, open_store
from lambdas.health_probe.settings import ProbeSettings, get_settings
from matrx_ship.client import AgentClient, AgentError
from matrx_ship.store import Store

logger = Logger(service="health_probe", child=True)

MIN_ROUND_S = 3.0  # a round starts only with this much of the invocation left
MIN_ACTION_S = 10.0  # a restart or rollback starts only with this much left
JOB_RUNNING = ("queued", "running")


class MetricsSink(Protocol):
    def add_metric(self, name: str, unit: MetricUnit, value: float) -> None: ...


@lru_cache(maxsize=4)
def _store(url: str) -> Store:
    """One engine per state store URL for the life of a warm function."""
    return open_store(url)


@dataclass
class Runner:
    """What one invocation works with; `deadline` is on the `time.monotonic` clock."""

    settings: ProbeSettings
    store: Store
    probes: ProbeStore
    sns: Any
    token: str
    metrics: MetricsSink
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    deadline: float = math.inf

    @classmethod
    def build(cls, settings: ProbeSettings, metrics: MetricsSink) -> Runner:
        store = _store(settings.database_url())
        probes = ProbeStore(store.engine)
        probes.check_schema()
        sns = boto3.client("sns")
        return cls(settings, store, probes, sns, settings.agent_token(), metrics)

    def left(self) -> float:
        return self.deadline - time.monotonic()


@dataclass
class StepOutcome:
    """What one escalation step did; `hold` means it was not taken and waits a round."""

    target: str
    step: str
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)
    hold: bool = False


@dataclass
class RoundReport:
    run_id: str
    verdict: str
    results: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    manager_down: bool
    failures: int
    seconds: float


# --- one round ------------------------------------------------------------------------------


def run_round(r: Runner) -> RoundReport:
    """Probe every target once, record, escalate, add the round's metrics."""
    started = time.monotonic()
    timeout = max(1.0, min(r.settings.request_timeout_s, (r.left() - 1) / 3))
    s = r.settings
    with ThreadPoolExecutor(max_workers=8) as pool:
        console = pool.submit(check_url, s.manager_console_url, timeout, console_ok)
        reach = reach_agent(
            public_url=s.agent_url,
            breakglass_url=s.breakglass_url,
            pin=s.breakglass_cert_sha256,
            token=r.token,
            timeout=timeout,
        )
        try:
            results = [agent_result(reach), *probe_routes(r, reach, pool, timeout)]
            results.insert(1, manager_result(s, reach, console if s.manager_console_url else None))
            statuses = _record(r, results)
            steps = escalate(r, reach, statuses)
        finally:
            reach.close()
    return _report(r, reach, results, statuses, steps, time.monotonic() - started)


def _record(r: Runner, results: list[ProbeResult]) -> dict[str, TargetStatus]:
    statuses = {}
    for result in results:
        status = r.probes.record(result, run_id=r.run_id, thresholds=r.settings.thresholds)
        if status is not None:
            statuses[result.target] = status
    return statuses


def _report(
    r: Runner,
    reach: AgentReach,
    results: list[ProbeResult],
    statuses: dict[str, TargetStatus],
    steps: list[StepOutcome],
    seconds: float,
) -> RoundReport:
    manager = statuses.get("manager")
    down = manager is not None and manager.state is TargetState.down
    failures = sum(1 for res in results if res.ok is False)
    r.metrics.add_metric(name="ManagerDown", unit=MetricUnit.Count, value=1 if down else 0)
    r.metrics.add_metric(name="ProbeFailures", unit=MetricUnit.Count, value=failures)
    report = RoundReport(
        run_id=r.run_id,
        verdict=reach.verdict,
        results=[_result_line(res, statuses.get(res.target)) for res in results],
        steps=[asdict(step) for step in steps],
        manager_down=down,
        failures=failures,
        seconds=round(seconds, 3),
    )
    log = logger.warning if failures or steps else logger.info
    log("probe round", extra={"round": asdict(report)})
    return report


def _result_line(res: ProbeResult, status: TargetStatus | None) -> dict[str, Any]:
    line: dict[str, Any] = {
        "target": res.target,
        "status": res.status,
        "path": res.path,
        "error": res.error,
    }
    if status is not None:
        line.update(state=status.state.value, failures=status.consecutive_failures)
    return line


# --- probes ------------------------------------------------------------------------------------


def console_ok(status: int) -> bool:
    """The console answered as itself: a page, a redirect to login, or an auth wall."""
    return status < 400 or status in (401, 403)


def route_ok(status: int) -> bool:
    """A route is served when the proxy did not answer with a 5xx for it."""
    return status < 500


@dataclass(frozen=True)
class UrlCheck:
    url: str
    ok: bool
    http_status: int | None
    latency_ms: float
    error: str | None


def check_url(url: str, timeout: float, accept: Callable[[int], bool]) -> UrlCheck:
    """One GET, no redirects followed, certificates verified."""
    started = time.perf_counter()
    if not url:
        return UrlCheck(url, False, None, 0.0, "no URL configured")
    try:
        answer = httpx.get(url, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        ms = (time.perf_counter() - started) * 1000
        return UrlCheck(url, False, None, round(ms, 1), f"{type(exc).__name__}: {exc}"[:300])
    ms = round((time.perf_counter() - started) * 1000, 1)
    ok = accept(answer.status_code)
    return UrlCheck(url, ok, answer.status_code, ms, None if ok else f"HTTP {answer.status_code}")


def agent_result(reach: AgentReach) -> ProbeResult:
    """The agent target: ok only when the public path answers and the agent is ready."""
    errors = {
        "not_ready": "the agent answers but is not ready (or refuses the token)",
        "proxy_broken": "the public path fails; the agent answers on break-glass",
        "agent_down": "the agent does not answer; the host accepts connections",
        "host_unreachable": "neither path accepts a TCP connection",
    }
    return ProbeResult(
        target="agent",
        kind="agent",
        ok=reach.verdict == "ok",
        url=reach.detail["public"]["url"],
        path=reach.path,
        latency_ms=reach.latency_ms,
        error=errors.get(reach.verdict),
        detail=reach.detail,
    )


def agent_view(client: AgentClient | None, name: str) -> dict[str, Any]:
    """The agent's view of the manager service: state, health, running release."""
    if client is None:
        return {"known": False, "error": "the agent does not answer"}
    try:
        status = client.service(name)["status"]
    except AgentError as exc:
        return {"known": False, "error": exc.message, "code": exc.code}
    current = status.get("current") or {}
    view = {
        "known": True,
        "kind": status.get("kind"),
        "state": status.get("state"),
        "health": status.get("health"),
        "release": (current.get("labels") or {}).get("matrx.release"),
    }
    view["ok"] = view["state"] == "running" and view["health"] in ("healthy", "none")
    if view["kind"] != "manager":
        view["note"] = f"the service '{name}' is of kind '{view['kind']}', not 'manager'"
    return view


def manager_result(
    s: ProbeSettings, reach: AgentReach, console: Future[UrlCheck] | None
) -> ProbeResult:
    """The manager target: its console URL decides; without one, the agent's view."""
    view = agent_view(reach.client, s.manager_service)
    if console is not None:
        c = console.result()
        return ProbeResult(
            target="manager",
            kind="manager",
            ok=c.ok,
            url=c.url,
            path="public",
            http_status=c.http_status,
            latency_ms=c.latency_ms,
            error=c.error,
            detail={"agent_view": view},
        )
    ok = view.get("ok") if view["known"] else None
    error = None if ok else (view.get("error") or f"state {view.get('state')}")
    return ProbeResult(
        target="manager",
        kind="manager",
        ok=ok,
        path="agent",
        error=error,
        detail={"agent_view": view},
    )


def probe_routes(
    r: Runner, reach: AgentReach, pool: ThreadPoolExecutor, timeout: float
) -> list[ProbeResult]:
    """Each public route the agent lists (or, when it cannot say, the routes seen before)."""
    urls, notes = _route_urls(r, reach)
    skip = {r.settings.agent_url, r.settings.manager_console_url}
    urls = {url: meta for url, meta in urls.items() if url not in skip}
    checks = {url: pool.submit(check_url, url, timeout, route_ok) for url in urls}
    results = [
        ProbeResult(
            target=f"route:{url}"[:200],
            kind="route",
            ok=c.ok,
            url=url,
            path="public",
            http_status=c.http_status,
            latency_ms=c.latency_ms,
            error=c.error,
            detail=urls[url],
        )
        for url, c in ((url, f.result()) for url, f in checks.items())
    ]
    return notes + results


def _route_urls(
    r: Runner, reach: AgentReach
) -> tuple[dict[str, dict[str, Any]], list[ProbeResult]]:
    known = {t.url: {"source": "store"} for t in r.probes.targets(kind="route") if t.url}
    if reach.client is None:
        return known, []
    try:
        routes = reach.client.routes().routes
        listed = [route.model_dump(mode="json", exclude_unset=True) for route in routes]
    except AgentError as exc:
        note = ProbeResult(
            target="routes",
            kind="routes",
            ok=None,
            error=f"the agent could not list its routes ({exc.code}): {exc.message}"[:300],
            detail={"status": exc.status},
        )
        return known, [note]
    urls = {route_url(x): x for x in listed}
    return {url: {**x, "source": "agent"} for url, x in urls.items() if url}, []


def route_url(route: dict[str, Any]) -> str | None:
    """A listed route's public URL: its `url`, or https://host/path_prefix."""
    if route.get("url"):
        return str(route["url"])
    if not route.get("host"):
        return None
    scheme = "https" if route.get("tls", True) else "http"
    return f"{scheme}://{route['host']}{route.get('path_prefix') or '/'}"


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


# --- invocations -------------------------------------------------------------------------------


def run_invocation(
    r: Runner,
    *,
    budget_s: float,
    flush: Callable[[], None] | None = None,
    stop: threading.Event | None = None,
) -> list[RoundReport]:
    """Rounds every `interval_s`, from now until the budget is spent; `flush` is called
    between rounds, so each round's metrics leave with their own timestamp."""
    stop = stop or threading.Event()
    start = time.monotonic()
    r.deadline = start + budget_s
    interval, k = r.settings.interval_s, 0
    reports: list[RoundReport] = []
    while start + k * interval + MIN_ROUND_S <= r.deadline:
        if stop.wait(max(0.0, start + k * interval - time.monotonic())):
            break
        if reports and flush is not None:
            flush()
        reports.append(run_round(r))
        k = max(k + 1, math.ceil((time.monotonic() - start) / interval))
    return reports


def schedule(settings: ProbeSettings, metrics: Any, stop: threading.Event | None = None) -> None:
    """Invoke as EventBridge does: every `probe_rate_minutes`, each invocation with the
    function's budget (its timeout less 2 s), until `stop` is set."""
    stop = stop or threading.Event()
    period = settings.probe_rate_minutes * 60
    start, n = time.monotonic(), 0
    while not stop.is_set():
        runner = Runner.build(settings, metrics)
        run_invocation(
            runner, budget_s=settings.budget_s - 2, flush=metrics.flush_metrics, stop=stop
        )
        metrics.flush_metrics()
        n += 1
        stop.wait(max(0.0, start + n * period - time.monotonic()))


def summary(reports: list[RoundReport]) -> dict[str, Any]:
    """What the handler returns: rounds, the last verdict, every step taken."""
    return {
        "rounds": len(reports),
        "verdict": reports[-1].verdict if reports else None,
        "manager_down": reports[-1].manager_down if reports else None,
        "steps": [step for rep in reports for step in rep.steps],
    }


def main(argv: list[str] | None = None) -> None:
    from aws_lambda_powertools import Metrics

    ap = argparse.ArgumentParser(
        prog="python -m lambdas.health_probe.probe", description=__doc__.split("\n")[0]
    )
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="one round, then exit")
    mode.add_argument("--schedule", action="store_true", help="invoke every rate, until Ctrl-C")
    ap.add_argument(
        "--migrate", action="store_true", help="apply the state store's migrations first"
    )
    args = ap.parse_args(argv)
    settings = get_settings()
    Logger(service="health_probe")  # the parent of this module's logger: JSON lines on stdout
    metrics = Metrics(service="health_probe")
    if args.migrate:
        _store(settings.database_url()).migrate()
    if args.schedule:
        schedule(settings, metrics)
        return
    runner = Runner.build(settings, metrics)
    if args.once:
        out: Any = asdict(run_round(runner))
    else:
        budget = settings.budget_s - 2
        out = summary(run_invocation(runner, budget_s=budget, flush=metrics.flush_metrics))
    metrics.flush_metrics()
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
