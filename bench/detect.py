"""Time from a killed manager container to "down", and to healthy again, at production cadence.

Starts what it needs (dockerd when none runs, a private PostgreSQL, moto for SNS, a real
agent), creates a manager service (the busybox console on a loopback port, restart
policy "no"), and runs the health probe as EventBridge runs it: an invocation every
minute with the function's 55 s budget, probe rounds every 10 s inside it.

Each run waits for a probe round to pass, then kills the manager container (`docker kill`)
at a chosen moment: the runs sweep that moment across the interval (run i of n at
(i + 0.5) / n of it, so the worst case, just after a round, is measured), a random number
of whole intervals later (so the kill lands anywhere in the invocation's minute, its
boundary included). It then reads the probe's own record in the state store until the
manager is "down", then healthy again (restarted through the agent), and its console
answers.

Targets (issue 5): detected <= 30 s, recovered <= 90 s.

Run: .venv/bin/python -m bench.detect [--runs 5] [--interval 10] [--seed 1]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import threading
import time
import uuid
from datetime import datetime
from typing import Any

import boto3
import httpx
import psycopg
from pydantic import SecretStr

from lambdas.common.ladder import TargetState
from lambdas.common.records import ProbeStore, TargetStatus
from lambdas.common.statestore import open_store
from lambdas.health_probe.probe import schedule
from lambdas.health_probe.settings import ProbeSettings
from matrx_ship.store.store import utcnow
from tests.harness import RunningAgent, app_spec, start_agent
from tests.harness.engines import (
    Moto,
    Postgres,
    build_busybox_app,
    docker_client,
    free_port,
    wait_for,
)

DETECT_TARGET_S, RECOVER_TARGET_S = 30.0, 90.0


class QuietMetrics:
    """The probe's metrics sink, without printing EMF lines into the figures."""

    def add_metric(self, name: str, unit: Any, value: float) -> None:
        pass

    def flush_metrics(self) -> None:
        pass


def manager_status(probes: ProbeStore) -> TargetStatus | None:
    return probes.target("manager")


def after_a_round(probes: ProbeStore) -> None:
    """Return just after the probe records the (healthy) manager once more."""
    seen = (manager_status(probes) or _never()).last_ok_at
    wait_for(lambda: (manager_status(probes) or _never()).last_ok_at != seen, 30, "a round")


def _never() -> TargetStatus:
    raise RuntimeError("the probe has not recorded the manager")


def escalation_ended(probes: ProbeStore) -> bool:
    status = manager_status(probes)
    return status is not None and status.escalation_step == 0


def wait_state(probes: ProbeStore, state: TargetState, after: datetime, timeout: float) -> datetime:
    """When the manager entered `state` (its `state_since`), at or after `after`."""

    def entered() -> datetime | None:
        st = manager_status(probes)
        if st is not None and st.state is state and st.state_since >= after:
            return st.state_since
        return None

    return wait_for(entered, timeout, f"manager {state.value}", interval=0.2)


def one_run(
    docker: Any, admin: Any, probes: ProbeStore, name: str, console: str
) -> tuple[float, float]:
    container_id = admin.service(name)["status"]["current"]["id"]
    killed_at = utcnow()
    docker.containers.get(container_id).kill()
    down = wait_state(probes, TargetState.down, killed_at, 120)
    healthy = wait_state(probes, TargetState.healthy, down, 180)
    assert httpx.get(console, timeout=5).status_code == 200, "the console must answer again"
    wait_for(lambda: escalation_ended(probes), 30, "the end of the escalation")
    return (down - killed_at).total_seconds(), (healthy - killed_at).total_seconds()


def start_engines() -> tuple[Postgres, Moto, str]:
    pg, moto = Postgres(), Moto()
    pg.start()
    moto.start()
    name = "bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(pg.url().replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dummy_aws = {
        "AWS_ENDPOINT_URL": moto.endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",  # moto's; never a real key
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    os.environ.update(dummy_aws)
    return pg, moto, pg.url(name)


def probe_settings(
    agent: RunningAgent, token: str, console: str, name: str, interval: float
) -> ProbeSettings:
    topic = boto3.client("sns").create_topic(Name="bench-alarms")["TopicArn"]
    assert agent.settings.database_url is not None
    return ProbeSettings(
        agent_url=agent.url,
        agent_token_value=SecretStr(token),
        database_url_value=agent.settings.database_url,
        alarm_topic_arn=topic,
        manager_console_url=console,
        manager_service=name,
        host="bench",
        interval_s=interval,
    )  # type: ignore[call-arg]


def report(detect: list[float], recover: list[float]) -> None:
    print(f"runs: {len(detect)}")
    for label, values, target in (
        ("detected (kill -> down)", detect, DETECT_TARGET_S),
        ("recovered (kill -> healthy)", recover, RECOVER_TARGET_S),
    ):
        worst = max(values)
        verdict = "meets" if worst <= target else "MISSES"
        print(
            f"{label:30s} median {statistics.median(values):5.1f} s   worst {worst:5.1f} s   "
            f"(target <= {target:.0f} s: {verdict})"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between probe rounds")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    logging.disable(logging.WARNING)  # the probe logs every failing round; the figures matter
    docker = docker_client()
    image = build_busybox_app(docker)
    pg, moto, db_url = start_engines()
    agent = start_agent(database_url=db_url, stats_interval=2.0)
    admin = agent.client()
    name, port = f"t-bench-manager-{uuid.uuid4().hex[:4]}", free_port()
    console = f"http://127.0.0.1:{port}/"
    stop = threading.Event()
    store = open_store(db_url)
    try:
        token = admin.create_token(f"deploy-tier-{name[-4:]}", "operate")["token"]
        ports = [{"container": 8080, "host": port}]
        admin.create_service(
            app_spec(name, image, kind="manager", restart_policy="no", ports=ports)
        )
        settings = probe_settings(agent, token, console, name, args.interval)
        prober = threading.Thread(
            target=schedule, args=(settings, QuietMetrics(), stop), daemon=True
        )
        prober.start()
        probes = ProbeStore(store.engine)
        wait_for(lambda: manager_status(probes), 60, "the first probe round")
        detect, recover = [], []
        for i in range(args.runs):
            after_a_round(probes)
            time.sleep(rng.randrange(6) * args.interval + (i + 0.5) * args.interval / args.runs)
            d, r = one_run(docker, admin, probes, name, console)
            detect.append(d)
            recover.append(r)
            print(f"run {i + 1}: down after {d:5.1f} s, healthy after {r:5.1f} s", flush=True)
        print(
            f"cadence: an invocation a minute (55 s budget), a round every {args.interval:g} s, "
            f"down after {settings.down_after} failed rounds"
        )
        report(detect, recover)
    finally:
        stop.set()
        admin.close()
        store.dispose()
        agent.close()
        moto.stop()
        pg.stop()


if __name__ == "__main__":
    main()
