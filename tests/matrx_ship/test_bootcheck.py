"""bootstrap's refusals, one check at a time, by equality (SQLite stores, local folders)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from matrx_ship import bootcheck
from matrx_ship.bootcheck import Problem
from matrx_ship.crypto import SecretBox
from matrx_ship.store import Store
from matrx_ship.store.backuptables import BackupCatalog
from matrx_ship.store.canary import HINT, ensure_canary
from tests.harness import free_port

KEY = "the-right-master-key-0123456789"
GOOD = {
    "MATRX_ADMIN_TOKEN": "adm_0123456789abcdef0123",
    "MATRX_MASTER_KEY": KEY,
    "SUPABASE_DB_URL": "postgresql://matrx:pw@db.example.com:5432/postgres",
    "MATRX_S3_BUCKET": "matrx-backups",
    "AWS_ACCESS_KEY_ID": "AKIA0123456789ABCDEF",
    "AWS_SECRET_ACCESS_KEY": "0123456789abcdef0123456789abcdef01234567",
    "MATRX_DOMAIN": "example.com",
    "MATRX_REPO": "https://github.com/example/matrx-ship.git",
    "MATRX_CONSOLE_AGENT_URL": "http://172.17.0.1:8700",
}
ENV_FIX = "write the env file (variables: docs/env.md) and pass its path to --env-file"


def test_a_missing_env_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nope.env"
    assert bootcheck.check_env_file(path) == Problem(
        "--env-file", f"{path} does not exist", ENV_FIX
    )


def test_a_folder_is_not_an_env_file(tmp_path: Path) -> None:
    assert bootcheck.check_env_file(tmp_path) == Problem(
        "--env-file", f"{tmp_path} is not a file", ENV_FIX
    )


def test_a_complete_env_file_has_no_problems_of_its_values() -> None:
    assert bootcheck.check_values(GOOD) == []


@pytest.mark.parametrize(
    "value",
    [
        "",
        "change-me",
        "<your master key>",
        "xxx",
        "XXXXXXXXXXXXXXXXXX",
        "please-change-me-now-0123",
    ],
)
def test_a_placeholder_secret_is_refused(value: str) -> None:
    env = GOOD | {"MATRX_MASTER_KEY": value}
    assert bootcheck.check_agent_secrets(env) == [
        Problem(
            "MATRX_MASTER_KEY",
            "is a placeholder",
            "set MATRX_MASTER_KEY to the real value (docs/env.md)",
        )
    ]


def test_a_short_admin_token_is_refused_as_the_agent_would() -> None:
    env = GOOD | {"MATRX_ADMIN_TOKEN": "short-token"}
    assert bootcheck.check_agent_secrets(env) == [
        Problem(
            "MATRX_ADMIN_TOKEN",
            "is shorter than 16 characters",
            "set MATRX_ADMIN_TOKEN to the real value (docs/env.md)",
        )
    ]


def test_a_missing_secret_is_named() -> None:
    env = {k: v for k, v in GOOD.items() if k != "MATRX_ADMIN_TOKEN"}
    assert bootcheck.check_agent_secrets(env) == [
        Problem(
            "MATRX_ADMIN_TOKEN",
            "is not set in the env file",
            "add MATRX_ADMIN_TOKEN=<a real value> (docs/env.md)",
        )
    ]


STORE_FIX = (
    "set SUPABASE_DB_URL=postgresql://USER:PASSWORD@HOST:5432/DB (Supabase) or set "
    "MATRX_ALLOW_SQLITE=1 for a trial or test host (not durable)"
)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:p@db/x", "is a mysql URL, not PostgreSQL"),
        ("sqlite:////var/lib/matrx-ship/state.db", "is a sqlite URL, not PostgreSQL"),
        ("not a url", "is not a database URL"),
        ("<postgres url>", "is a placeholder"),
    ],
)
def test_a_store_that_is_not_postgres_is_refused(url: str, message: str) -> None:
    env = GOOD | {"SUPABASE_DB_URL": url}
    assert bootcheck.check_store_url(env) == Problem("SUPABASE_DB_URL", message, STORE_FIX)


def test_sqlite_and_a_local_folder_pass_only_when_allowed() -> None:
    trial = {k: v for k, v in GOOD.items() if k not in ("SUPABASE_DB_URL", "MATRX_S3_BUCKET")}
    assert bootcheck.check_store_url(trial) == Problem("SUPABASE_DB_URL", "is not set", STORE_FIX)
    assert [p.variable for p in bootcheck.check_bucket(trial)] == ["MATRX_S3_BUCKET"]
    allowed = trial | {"MATRX_ALLOW_SQLITE": "1", "SUPABASE_DB_URL": "sqlite:////tmp/s.db"}
    assert bootcheck.check_store_url(allowed) is None
    assert bootcheck.check_bucket(allowed) == []


def test_a_bucket_needs_its_credentials() -> None:
    env = {k: v for k, v in GOOD.items() if not k.startswith("AWS_")}
    assert [p.variable for p in bootcheck.check_bucket(env)] == [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ]


def test_a_variable_the_platform_specs_need_is_named() -> None:
    env = {k: v for k, v in GOOD.items() if k != "MATRX_DOMAIN"}
    problem = bootcheck.check_platform(env, bootcheck.platform_dir(env))
    assert problem is not None and problem.variable == "MATRX_PLATFORM_DIR"
    assert "MATRX_DOMAIN (in manager-console.json)" in problem.message


def test_the_manager_s_source_defaults_to_this_repository() -> None:
    env = {k: v for k, v in GOOD.items() if k != "MATRX_REPO"}
    assert bootcheck.check_platform(env, bootcheck.platform_dir(env)) is None
    assert bootcheck.platform_variables(env)["MATRX_REPO"] == bootcheck.this_repository()
    assert bootcheck.platform_variables(GOOD)["MATRX_REPO"] == GOOD["MATRX_REPO"]


def test_an_unreachable_store_is_named_without_its_password() -> None:
    url = f"postgresql+psycopg://matrx:s3cret-pw@127.0.0.1:{free_port()}/postgres"
    store = Store(url)
    problem = bootcheck.check_store(store)
    store.dispose()
    assert problem is not None and problem.variable == "SUPABASE_DB_URL"
    assert "cannot be reached" in problem.message and "s3cret-pw" not in problem.message


def sqlite_store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    store.migrate()
    return store


def test_a_wrong_master_key_is_refused_by_the_canary(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    ensure_canary(store, SecretBox(KEY))
    tables = {"settings"}
    assert bootcheck.check_canary(store, SecretBox(KEY), tables) is None
    assert bootcheck.check_canary(store, SecretBox("another-key-0123456789"), tables) == Problem(
        "MATRX_MASTER_KEY",
        "does not decrypt the store's canary: every secret in this store would be unreadable",
        HINT,
    )


def backup(id_: str, service: str | None, day: int, status: str = "succeeded") -> dict[str, object]:
    return {
        "id": id_,
        "kind": "service" if service else "system",
        "service": service,
        "status": status,
        "created_at": datetime(2026, 12, day, 3, 0, tzinfo=UTC),
        "manifest_key": f"backups/{service or 'system'}/{id_}/manifest.json",
    }


def test_the_newest_succeeded_backup_of_each_service_is_the_sample() -> None:
    rows = [
        backup("b1", "app", 1),
        backup("b2", "app", 2),
        backup("b3", "app", 3, status="failed"),
        backup("b4", "db", 1),
        backup("s1", None, 2),
    ]
    assert [r["id"] for r in bootcheck.newest_backups(rows)] == ["b2", "b4", "s1"]


def test_a_backup_whose_manifest_is_not_in_the_bucket_is_named() -> None:
    rows = [backup("b1", "app", 1), backup("b2", "app", 2), backup("b4", "db", 1)]
    present = {"backups/db/b4/manifest.json", "backups/app/b1/manifest.json"}
    assert bootcheck.check_backups(rows, present.__contains__, "s3://bkt/vps1") == [
        Problem(
            "MATRX_S3_PREFIX",
            "the service backup of app the store names as newest (b2, 2026-12-02 03:00 UTC) "
            "has no manifest at s3://bkt/vps1/backups/app/b2/manifest.json",
            "point MATRX_S3_BUCKET and MATRX_S3_PREFIX at where the old host wrote its backups "
            "(unset, MATRX_S3_PREFIX is the one the store keeps, else this host's name, which a "
            "new host may not share), with AWS_ENDPOINT_URL for a non-AWS endpoint",
        )
    ]


def trial_env(tmp_path: Path, **extra: str) -> Path:
    env = {k: v for k, v in GOOD.items() if k not in ("SUPABASE_DB_URL", "MATRX_S3_BUCKET")}
    env |= {"MATRX_ALLOW_SQLITE": "1", "MATRX_DATA_DIR": str(tmp_path / "data"), **extra}
    path = tmp_path / "host.env"
    path.write_text("".join(f"{k}={json.dumps(v)}\n" for k, v in env.items()))
    return path


def test_a_new_embedded_store_passes_and_nothing_is_created(tmp_path: Path) -> None:
    assert bootcheck.problems(trial_env(tmp_path)) == []
    assert not (tmp_path / "data").exists()


def test_the_catalog_s_backups_must_be_in_the_blob_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = Store(f"sqlite:///{data / 'state.db'}")
    store.migrate()
    ensure_canary(store, SecretBox(KEY))
    catalog = BackupCatalog(store)
    catalog.add(id="bak_1", kind="service", service="app", trigger="manual", actor="t", prefix="p/")
    catalog.update("bak_1", status="succeeded", manifest_key="backups/app/bak_1/manifest.json")
    store.dispose()
    found = bootcheck.problems(trial_env(tmp_path))
    assert [(p.variable, p.message.split(" (")[0]) for p in found] == [
        ("MATRX_S3_PREFIX", "the service backup of app the store names as newest")
    ]
    (data / "blobs" / "backups" / "app" / "bak_1").mkdir(parents=True)
    (data / "blobs" / "backups" / "app" / "bak_1" / "manifest.json").write_text("{}")
    assert bootcheck.problems(trial_env(tmp_path)) == []


def test_the_report_says_nothing_was_changed() -> None:
    text = bootcheck.report([Problem("MATRX_MASTER_KEY", "is a placeholder", "set it")])
    assert text.splitlines() == [
        "bootstrap: refused (1 problem(s)); nothing was changed:",
        "  MATRX_MASTER_KEY: is a placeholder",
        "    fix: set it",
    ]


def test_the_old_host_s_bucket_prefix_comes_from_the_store_when_the_env_names_none(
    tmp_path: Path,
) -> None:
    from matrx_ship.store.settingstable import put_setting

    store = sqlite_store(tmp_path)
    tables = {"settings"}
    assert bootcheck.with_stored_prefix(GOOD, store, tables) == GOOD  # nothing stored yet
    put_setting(store, "host_settings", json.dumps({"s3_prefix": "old-host", "port": 8700}))
    assert bootcheck.with_stored_prefix(GOOD, store, tables)["MATRX_S3_PREFIX"] == "old-host"
    named = {**GOOD, "MATRX_S3_PREFIX": "chosen"}
    assert bootcheck.with_stored_prefix(named, store, tables)["MATRX_S3_PREFIX"] == "chosen"
