"""Setup for the deploy tier's functions: moto for AWS, a real agent, a manager service."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from sqlalchemy import delete

from lambdas.common.records import ProbeStore, probe_results, probe_targets
from lambdas.common.statestore import open_store
from matrx_ship.client import AgentClient
from tests.harness import RunningAgent, app_spec, engines, serving
from tests.matrx_ship.test_client_tls import self_signed

# What cdk/stack.py gives the functions; Powertools reads it when the handlers are imported.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "MatrxShip")

REGION = "us-east-1"


@dataclass
class FakeLambdaContext:
    """The few attributes of Lambda's context object that the handlers and Powertools read."""

    budget_s: float
    function_name: str = "health_probe"
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:health_probe"
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return int((self.started + self.budget_s - time.monotonic()) * 1000)


def scheduled_event() -> dict[str, Any]:
    """What EventBridge hands a function on a schedule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-28T12:00:00Z",
        "region": REGION,
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/probe"],
        "detail": {},
    }


@dataclass
class Aws:
    """boto3 clients on moto's server."""

    endpoint: str

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint)  # type: ignore[call-overload]

    def secret(self, value: str) -> str:
        name = f"matrx/test-{uuid.uuid4().hex[:8]}"
        return str(
            self.client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]
        )


@pytest.fixture
def aws(moto: engines.Moto, monkeypatch: pytest.MonkeyPatch) -> Aws:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return Aws(moto.endpoint)


@dataclass
class Inbox:
    """An SQS queue subscribed to a fresh SNS topic: what the people on call would get."""

    aws: Aws
    topic_arn: str
    queue_url: str
    received: list[dict[str, Any]] = field(default_factory=list)

    def messages(self) -> list[dict[str, Any]]:
        """Every message so far (SNS envelopes: Subject, Message, MessageAttributes)."""
        sqs = self.aws.client("sqs")
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            batch = got.get("Messages", [])
            if not batch:
                return self.received
            for m in batch:
                self.received.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])

    def subjects(self) -> list[str]:
        return [m["Subject"] for m in self.messages()]


@pytest.fixture
def inbox(aws: Aws) -> Inbox:
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic = sns.create_topic(Name=f"matrx-alarms-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"inbox-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"])
    return Inbox(aws, topic, queue_url)


@pytest.fixture(scope="module")
def probe_token(agent: RunningAgent) -> str:
    """The token the deploy tier shows the agent: name 'deploy-tier', scope operate."""
    admin = agent.client()
    try:
        return str(admin.create_token("deploy-tier", "operate")["token"])
    finally:
        admin.close()


@dataclass
class Manager:
    name: str
    port: int

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


def manager_spec(name: str, image: str, port: int, **overrides: Any) -> dict[str, Any]:
    """A busybox manager console on a loopback port, not restarted by Docker."""
    ports = [{"container": 8080, "host": port}]
    return app_spec(name, image, kind="manager", restart_policy="no", ports=ports, **overrides)


# The console answers 404 on `/` but /healthz passes: the health gate lets it through,
# the probe (like a person) sees a broken console.
BROKEN_CONSOLE = [
    "/bin/sh",
    "-c",
    "mkdir -p /www && echo ok > /www/healthz && exec httpd -f -p 8080 -h /www",
]


@pytest.fixture
def manager(admin: AgentClient, app_image: str, svc_name: str) -> Manager:
    port = engines.free_port()
    admin.create_service(manager_spec(svc_name, app_image, port))
    return Manager(svc_name, port)


@pytest.fixture
def probe_db(agent: RunningAgent) -> Iterator[ProbeStore]:
    """The probe tables in the agent's own database, emptied for each test."""
    assert agent.settings.database_url is not None
    store = open_store(agent.settings.database_url.get_secret_value())
    probes = ProbeStore(store.engine)
    with store.engine.begin() as conn:
        conn.execute(delete(probe_results))
        conn.execute(delete(probe_targets))
    yield probes
    store.dispose()


@pytest.fixture
def probe_env(
    monkeypatch: pytest.MonkeyPatch,
    aws: Aws,
    inbox: Inbox,
    agent: RunningAgent,
    probe_token: str,
    probe_db: ProbeStore,
) -> dict[str, str]:
    """The probe's environment as cdk/stack.py sets it, secrets in moto's Secrets Manager."""
    assert agent.settings.database_url is not None
    env = {
        "MATRX_HOST": "testhost",
        "MATRX_AGENT_URL": agent.url,
        "MATRX_ALARM_TOPIC_ARN": inbox.topic_arn,
        "MATRX_AGENT_TOKEN_SECRET_ARN": aws.secret(probe_token),
        "MATRX_DATABASE_URL_SECRET_ARN": aws.secret(agent.settings.database_url.get_secret_value()),
        "MATRX_PROBE_RATE_MINUTES": "1",
        "MATRX_PROBE_INTERVAL_S": "1",
        "MATRX_PROBE_TIMEOUT_S": "2",
        "MATRX_RUNBOOK_URL": "https://runbooks.example/manager-down",
        "MATRX_DR_RUNBOOK_URL": "https://runbooks.example/disaster-recovery",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def breakglass(agent: RunningAgent, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The same agent served over HTTPS on a second port: the break-glass path and its pin."""
    cert, key, pin = self_signed(tmp_path, "breakglass")
    port = engines.free_port()
    config = uvicorn.Config(
        agent.app,
        host="127.0.0.1",
        port=port,
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        log_level="warning",
        lifespan="off",
    )
    with serving(config, "break-glass server"):
        yield f"https://127.0.0.1:{port}", pin
