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
`ManagerDown` and `ProbeFailures`. The probes are in `checks`, the ladder's steps in
`escalation`, what an invocation works with in `runner`.
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit

from lambdas.common.ladder import (
    TargetState,
)
from lambdas.common.reach import AgentReach, reach_agent
from lambdas.common.records import ProbeResult, TargetStatus
from lambdas.health_probe.checks import (
    agent_result,
    check_url,
    console_ok,
    manager_result,
    probe_routes,
)
from lambdas.health_probe.escalation import escalate
from lambdas.health_probe.runner import MIN_ROUND_S, RoundReport, Runner, StepOutcome, _store
from lambdas.health_probe.settings import ProbeSettings, get_settings

logger = Logger(service="health_probe", child=True)

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
