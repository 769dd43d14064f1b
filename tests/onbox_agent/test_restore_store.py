"""The last resort: a lost state store comes back from a system backup, through the command a
person runs (a real PostgreSQL as the source and as the empty target, local blobs), and an
agent on the restored store serves what the old one knew."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import boto3
import psycopg
import psycopg.sql
import pytest

from onbox_agent.restore_store import (
    Folder,
    Refused,
    backup_folders,
    count_report,
    load_order,
    main,
    row_values,
    secret_values,
)
from tests.harness import RunningAgent, agent_settings, app_spec, engines, start_agent

ROOT = Path(__file__).resolve().parents[2]
A, B = "bak_aaaaaaaaaaaa", "bak_bbbbbbbbbbbb"
COUNT = psycopg.sql.SQL("SELECT count(*) FROM {}")


# --- pure parts ---------------------------------------------------------------------------


def test_backup_folders_are_newest_first_and_an_unfinished_one_has_no_manifest() -> None:
    keys = [
        f"system-backups/20261201T030000Z-{A}/manifest.json",
        f"system-backups/20261201T030000Z-{A}/tables/services.jsonl.gz",
        f"system-backups/20261202T030000Z-{B}/tables/services.jsonl.gz",
        "system-backups/stray.txt",
        "system-backups/20261203T030000Z-not-an-id/manifest.json",
    ]
    assert backup_folders(keys) == [
        Folder(B, f"system-backups/20261202T030000Z-{B}/", "20261202T030000Z", False),
        Folder(A, f"system-backups/20261201T030000Z-{A}/", "20261201T030000Z", True),
    ]
    assert backup_folders([]) == []


def test_tables_load_in_the_targets_dependency_order_and_an_unknown_one_is_refused() -> None:
    order = ["services", "tokens", "audit_events", "alembic_version"]
    assert load_order(order, ["tokens", "alembic_version", "services"]) == ["services", "tokens"]
    with pytest.raises(Refused) as refused:
        load_order(order, ["services", "from_the_future"])
    assert refused.value.code == "schema_mismatch" and "from_the_future" in refused.value.message


def test_a_json_line_becomes_column_values_with_its_times_parsed() -> None:
    kinds = {"id": "plain", "at": "datetime", "day": "date", "detail": "plain"}
    line = {"id": 3, "at": "2026-12-01T03:00:00Z", "day": "2026-12-01", "detail": {"a": None}}
    assert row_values(line, kinds, "t") == {
        "id": 3,
        "at": datetime(2026, 12, 1, 3, tzinfo=UTC),
        "day": date(2026, 12, 1),
        "detail": {"a": None},
    }
    assert row_values({"at": None}, kinds, "t") == {"at": None}
    with pytest.raises(Refused) as refused:
        row_values({"id": 1, "dropped_later": 2}, kinds, "t")
    assert refused.value.code == "schema_mismatch" and "dropped_later" in refused.value.message


def test_the_secrets_checked_against_the_master_key_are_env_values_and_db_passwords() -> None:
    services = [
        {"spec": {"env": {"A": "enc:v1:aaa", "PLAIN": "x"}}},
        {"spec": {"env": {}}},
        {"spec": {}},
    ]
    dbs = [{"password_enc": "enc:v1:ppp"}, {"password_enc": None}]
    assert secret_values(services, dbs) == ["enc:v1:aaa", "enc:v1:ppp"]
    assert secret_values([], []) == []


def test_the_count_report_names_every_table_of_the_backup() -> None:
    assert count_report({"b": 1, "a": 2}, {"a": 2}) == [("a", 2, 2), ("b", 1, 0)]


def test_bad_arguments_are_a_json_error_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--backup-id", "../etc", "--store-url", "sqlite:///x.db"])
    assert exited.value.code == 2
    error = json.loads(capsys.readouterr().err)
    assert error["error"] == "bad_arguments" and "bak_" in error["message"] and error["hint"]


# --- the command over a real PostgreSQL ---------------------------------------------------


def command(
    env_file: Path, *args: str, without: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """``python -m onbox_agent.restore_store`` as a person runs it (its own process); its
    settings come from the env file only (no MATRX_* of ours, nor the ``without`` ones)."""
    env = {k: v for k, v in os.environ.items() if k not in without and "MATRX_" not in k}
    return subprocess.run(
        [sys.executable, "-m", "onbox_agent.restore_store", "--env-file", str(env_file), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        check=False,
    )


def row_counts(url: str) -> dict[str, int]:
    """Rows per table of a database (the migrations' bookkeeping aside)."""
    with psycopg.connect(url) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        return {
            n: conn.execute(COUNT.format(psycopg.sql.Identifier(n))).fetchone()[0]  # type: ignore[index]
            for n in names
            if n != "alembic_version"
        }


def printed_counts(out: str) -> dict[str, tuple[int, int]]:
    return {m[1]: (int(m[2]), int(m[3])) for m in re.finditer(r"^(\w+) +(\d+) +(\d+)$", out, re.M)}


def backed_up_source(
    postgres: engines.Postgres, data_dir: Path, app_image: str, name: str
) -> dict[str, Any]:
    """An agent with a service (an env secret), a token and audit events, and a system
    backup; then the agent stops and its store is dropped (lost). What the test needs."""
    source = start_agent(data_dir, postgres=postgres)
    try:
        with source.client() as admin:
            admin.create_service(app_spec(name, app_image, env={"API_SECRET": "canary-7e2"}))
            token_name = "op-" + uuid.uuid4().hex[:6]
            operator = admin.create_token(token_name, "operate")["token"]
            spec_only = admin.request("POST", f"/v1/services/{name}/backups")
            assert admin.wait_job(spec_only["id"], 120)["status"] == "succeeded"
            history = admin.audit(limit=100)["events"]
            job = admin.request("POST", "/v1/system/backups")
            assert admin.wait_job(job["id"], 120)["status"] == "succeeded"
            backup = admin.request("GET", f"/v1/backups/{job['backup_id']}")
        return {
            "backup": backup,
            "service_backup": spec_only["backup_id"],
            "history": history,
            "operator": (token_name, operator),
            "master_key": source.settings.master_key.get_secret_value(),
            "admin_token": source.admin_token,
        }
    finally:
        source.close()  # drops the source database: the store is lost


def test_a_lost_store_is_restored_into_an_empty_database_and_an_agent_serves_it(
    postgres: engines.Postgres, app_image: str, svc_name: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "agent"
    was = backed_up_source(postgres, data_dir, app_image, svc_name)
    backup = was["backup"]
    env_file = tmp_path / "agent.env"
    env = f"MATRX_DATA_DIR={data_dir}\nMATRX_S3_PREFIX=testhost\n"
    env_file.write_text(env + f"MATRX_MASTER_KEY={was['master_key']}\n")
    (tmp_path / "wrong.env").write_text(env + "MATRX_MASTER_KEY=another-key-0123456789\n")

    listed = command(env_file, "--list")
    assert listed.returncode == 0, listed.stderr
    first = listed.stdout.splitlines()[1].split()
    assert first[0] == backup["id"] and first[-1] == "complete"

    target = postgres.create_database("restored_")
    url = postgres.url(target).replace("+psycopg", "")  # a plain libpq URL, as people have
    try:
        refused_without_a_change(env_file, data_dir, url, was)
        checked = command(env_file, "--backup-id", backup["id"], "--store-url", url, "--check")
        assert checked.returncode == 0, checked.stderr
        assert "nothing was written" in checked.stdout and row_counts(url) == {}

        done = command(env_file, "--backup-id", backup["id"], "--store-url", url)
        assert done.returncode == 0, done.stderr
        in_manifest = {
            p["name"]: p["detail"]["rows"]
            for p in backup["parts"]
            if p["kind"] == "table" and p["name"] != "alembic_version"
        }
        assert printed_counts(done.stdout) == {t: (n, n) for t, n in in_manifest.items()}
        assert "MATRX_MASTER_KEY opens the backup's 1 encrypted values" in done.stdout
        assert row_counts(url) == in_manifest and in_manifest["services"] == 1

        restored = RunningAgent(
            agent_settings(
                data_dir,
                database_url=postgres.url(target),
                master_key=was["master_key"],
                admin_token=was["admin_token"],
            )
        ).start()
        try:
            check_the_restored_agent(restored, svc_name, was)
        finally:
            restored.close()

        before = row_counts(url)
        again = command(env_file, "--backup-id", backup["id"], "--store-url", url)
        assert "services" in refused(again, "store_not_empty")["message"]
        assert row_counts(url) == before
    finally:
        postgres.drop_database(target)


def refused(result: subprocess.CompletedProcess[str], code: str) -> dict[str, Any]:
    """The command refused (exit 2) with this JSON error on stderr; the error."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    error: dict[str, Any] = json.loads(result.stderr.strip().splitlines()[-1])
    assert error["error"] == code and error["message"] and error["hint"], error
    return error


def refused_without_a_change(env_file: Path, data_dir: Path, url: str, was: dict[str, Any]) -> None:
    """A service backup's id, and a damaged table object, are refused; nothing is written."""
    not_system = command(env_file, "--backup-id", was["service_backup"], "--store-url", url)
    refused(not_system, "not_a_system_backup")
    table = next(p for p in was["backup"]["parts"] if p["name"] == "services")
    path = data_dir / "blobs" / table["key"]
    good = path.read_bytes()
    path.write_bytes(good[:-8] + bytes(b ^ 0xFF for b in good[-8:]))
    try:
        damaged = command(env_file, "--backup-id", was["backup"]["id"], "--store-url", url)
    finally:
        path.write_bytes(good)
    assert table["key"] in refused(damaged, "backup_corrupt")["message"]
    assert row_counts(url) == {}
    wrong = env_file.with_name("wrong.env")
    wrong_key = command(wrong, "--backup-id", was["backup"]["id"], "--store-url", url)
    refused(wrong_key, "wrong_master_key")
    assert row_counts(url) == {}
    newer = command(
        env_file, "--backup-id", newer_copy(data_dir, was["backup"]), "--store-url", url
    )
    assert "added_later" in refused(newer, "schema_mismatch")["message"]
    assert row_counts(url) == {}  # the migrations ran in the load's transaction: rolled back too


def newer_copy(data_dir: Path, backup: dict[str, Any]) -> str:
    """The backup under a new id, as a newer matrx-ship would write it: its services rows
    have a column this version lacks; every checksum matches. Its id."""
    new_id = "bak_" + uuid.uuid4().hex[:12]
    root = data_dir / "blobs"
    prefix = backup["prefix"].replace(backup["id"], new_id)
    shutil.copytree(root / backup["prefix"], root / prefix)
    manifest = json.loads((root / prefix / "manifest.json").read_bytes())
    manifest["id"] = new_id
    for part in manifest["parts"]:
        part["key"] = part["key"].replace(backup["id"], new_id)
        if part["name"] == "services":
            lines = gzip.decompress((root / part["key"]).read_bytes()).splitlines()
            rows = [json.loads(line) | {"added_later": 1} for line in lines]
            data = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in rows))
            part.update(size=len(data), sha256=with_sidecar(root / part["key"], data))
    with_sidecar(root / prefix / "manifest.json", json.dumps(manifest).encode())
    return new_id


def with_sidecar(path: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    path.write_bytes(data)
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return digest


def check_the_restored_agent(restored: RunningAgent, name: str, was: dict[str, Any]) -> None:
    """The service and its secret, the token, the audit history and the backup's own row."""
    with restored.client() as admin:
        assert admin.service(name)["spec"]["name"] == name
        secret = admin.request("GET", f"/v1/services/{name}/env/API_SECRET/reveal")
        assert secret == {"key": "API_SECRET", "value": "canary-7e2"}
        events = {e["id"]: e for e in admin.audit(limit=500)["events"]}
        for old in was["history"]:
            assert events[old["id"]] == old
        # new events get new ids: the reveal above was written to the store, after the old ones
        [revealed] = admin.audit(target=f"{name}/API_SECRET")["events"]
        assert revealed["id"] > max(e["id"] for e in was["history"])
        row = admin.request("GET", f"/v1/backups/{was['backup']['id']}")
        assert row["status"] == "succeeded" and row["sha256"] == was["backup"]["sha256"]
    token_name, operator = was["operator"]
    with restored.client(operator) as op:
        assert op.whoami().name == token_name


AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}


def test_a_backup_in_s3_of_the_embedded_store_restores_into_postgresql_with_the_env_file(
    postgres: engines.Postgres,
    moto: engines.Moto,
    app_image: str,
    svc_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in AWS.items():
        monkeypatch.setenv(key, value)
    bucket = "sys-" + uuid.uuid4().hex[:8]
    boto3.client("s3", endpoint_url=moto.endpoint).create_bucket(Bucket=bucket)
    s3 = {"s3_bucket": bucket, "s3_endpoint_url": moto.endpoint}
    with start_agent(tmp_path / "laptop", **s3) as source, source.client() as admin:  # SQLite
        admin.create_service(app_spec(svc_name, app_image, env={"API_SECRET": "canary-s3"}))
        job = admin.request("POST", "/v1/system/backups")
        assert admin.wait_job(job["id"], 120)["status"] == "succeeded"
        backup = admin.request("GET", f"/v1/backups/{job['backup_id']}")
        master_key = source.settings.master_key.get_secret_value()
    shutil.rmtree(tmp_path / "laptop")  # the host and its SQLite file are gone
    env_file = tmp_path / "agent.env"
    settings = {**AWS, "MATRX_S3_BUCKET": bucket, "AWS_ENDPOINT_URL": moto.endpoint}
    settings |= {"MATRX_S3_PREFIX": "testhost", "MATRX_DATA_DIR": str(tmp_path / "new")}
    env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    no_aws = (*AWS, "AWS_DEFAULT_REGION")  # the key comes from the env file only

    listed = command(env_file, "--list", without=no_aws)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split()[0] == backup["id"]
    target = postgres.create_database("from_s3_")
    try:
        done = command(
            env_file,
            "--backup-id",
            backup["id"],
            "--store-url",
            postgres.url(target),
            without=no_aws,
        )
        assert done.returncode == 0, done.stderr
        in_manifest = {
            p["name"]: p["detail"]["rows"]
            for p in backup["parts"]
            if p["kind"] == "table" and p["name"] != "alembic_version"
        }
        assert row_counts(postgres.url(target).replace("+psycopg", "")) == in_manifest
        on_pg = agent_settings(
            tmp_path / "new", database_url=postgres.url(target), master_key=master_key, **s3
        )
        with RunningAgent(on_pg).start() as restored, restored.client() as admin:
            secret = admin.request("GET", f"/v1/services/{svc_name}/env/API_SECRET/reveal")
            assert secret["value"] == "canary-s3"
            made = admin.service(svc_name)["spec"]
            assert made["name"] == svc_name
    finally:
        postgres.drop_database(target)
