"""bootstrap.sh's refusals: what must hold before a host is changed at all.

``python -m matrx_ship.bootcheck --env-file PATH`` reads the env file (read, never sourced)
and runs the checks in stages, each stage only when the one before found nothing:

1. the file: present and readable;
2. its values: the secrets set and not placeholders, the store a PostgreSQL URL (SQLite
   and a local blob folder only with ``MATRX_ALLOW_SQLITE=1``), the bucket and its
   credentials, every variable the platform specs name;
3. the store: reachable;
4. the master key: decrypts the store's canary (``matrx_ship.store.canary``);
5. the backups: the newest succeeded backup of each service (and the newest system backup)
   has its manifest in the bucket under the prefix.

Each check is a small function returning ``Problem(variable, message, fix)`` or None, and
reads nothing but what it is given; none writes anything. On problems the command prints
each and exits 2 ("nothing was changed"); with none it exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from matrx_ship import envtext
from matrx_ship.blobs import BlobStore, LocalBlobStore, S3BlobStore
from matrx_ship.config import PLACEHOLDERS, normalize_pg_url
from matrx_ship.crypto import SecretBox
from matrx_ship.errors import MatrxError
from matrx_ship.platform import SERVICES_DIR, PlatformSpecError, load_platform_specs
from matrx_ship.store import Store
from matrx_ship.store.backuptables import BackupCatalog
from matrx_ship.store.canary import HINT, canary_ok
from matrx_ship.store.settingstable import get_setting

REFUSED = 2
STORE_VAR = "SUPABASE_DB_URL"  # the agent's own name for the store URL: one env file serves both
ALLOW_SQLITE = "MATRX_ALLOW_SQLITE"
ROOT = Path(__file__).resolve().parents[1]  # this checkout
DEFAULT_DATA_DIR = "/var/lib/matrx-ship"  # install-agent.sh's and the systemd unit's
# Secrets the agent refuses to start without (and refuses as placeholders under 16 chars).
AGENT_SECRETS = ("MATRX_ADMIN_TOKEN", "MATRX_MASTER_KEY")
S3_SECRETS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
PLACEHOLDER_WORDS = ("change-me", "changeme", "replace-me", "your-", "todo")
ENV_DOC = "docs/env.md"


# What bootstrap's env file holds: only what cannot live in the store. (name, secret, what);
# docs/env.md's "bootstrap.sh's env file" section is generated from it.
ENV_FILE: tuple[tuple[str, bool, str], ...] = (
    ("SUPABASE_DB_URL", True, "The state store (PostgreSQL URL, with its password)."),
    ("MATRX_MASTER_KEY", True, "Decrypts the store's secrets; checked against its canary."),
    ("MATRX_ADMIN_TOKEN", True, "The first admin token; bootstrap calls the agent with it."),
    ("MATRX_S3_BUCKET", False, "The backups bucket."),
    ("MATRX_S3_PREFIX", False, "The bucket prefix (unset: the stored one, else the host name)."),
    ("AWS_ACCESS_KEY_ID", True, "The bucket's credentials (required with a bucket)."),
    ("AWS_SECRET_ACCESS_KEY", True, "The bucket's credentials (required with a bucket)."),
    ("AWS_ENDPOINT_URL", False, "An S3-compatible endpoint that is not AWS."),
    ("MATRX_DOMAIN", False, "The public domain: routed services are https://NAME.DOMAIN."),
    ("MATRX_ACME_EMAIL", False, "The ACME account's contact address (Traefik)."),
    ("MATRX_REPO", False, "The manager console's git source (default: this checkout's origin)."),
    ("MATRX_CONSOLE_AGENT_URL", False, "How the console's container reaches the agent."),
    ("MATRX_ALLOW_SQLITE", False, "1: a trial or test host on SQLite and a local folder."),
)


@dataclass(frozen=True)
class Problem:
    """Why bootstrap refuses: the variable at fault, what is wrong, and the fix."""

    variable: str
    message: str
    fix: str

    def lines(self) -> list[str]:
        return [f"  {self.variable}: {self.message}", f"    fix: {self.fix}"]


# --- stage 1: the file -------------------------------------------------------------------


def check_env_file(path: Path) -> Problem | None:
    """The env file exists, is a file, and can be read."""
    fix = f"write the env file (variables: {ENV_DOC}) and pass its path to --env-file"
    if not path.exists():
        return Problem("--env-file", f"{path} does not exist", fix)
    if not path.is_file():
        return Problem("--env-file", f"{path} is not a file", fix)
    if not os.access(path, os.R_OK):
        return Problem("--env-file", f"{path} cannot be read by this user", f"run as root: {fix}")
    return None


def read_env_file(path: Path) -> tuple[dict[str, str], Problem | None]:
    """The variables of the env file, or the problem with it (its values never shown)."""
    problem = check_env_file(path)
    if problem:
        return {}, problem
    try:
        return envtext.parse(path.read_text()), None
    except (MatrxError, UnicodeDecodeError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        return {}, Problem("--env-file", f"{path}: {message}", "one KEY=value a line; # comments")


# --- stage 2: the values -------------------------------------------------------------------


def looks_like_placeholder(value: str) -> bool:
    """Empty, ``<...>``, all x's, a word the agent refuses, or ``change-me``-style text."""
    v = value.strip().lower()
    if not v or v in PLACEHOLDERS or (v.startswith("<") and v.endswith(">")) or set(v) <= {"x"}:
        return True
    return any(word in v for word in PLACEHOLDER_WORDS)


def check_secret(env: Mapping[str, str], name: str, min_length: int = 1) -> Problem | None:
    """``name`` is set to something that is not a placeholder (at least ``min_length``)."""
    value = env.get(name)
    if value is None:
        return Problem(name, "is not set in the env file", f"add {name}=<a real value> ({ENV_DOC})")
    fix = f"set {name} to the real value ({ENV_DOC})"
    if looks_like_placeholder(value):
        return Problem(name, "is a placeholder", fix)
    if len(value.strip()) < min_length:
        return Problem(name, f"is shorter than {min_length} characters", fix)
    return None


def check_agent_secrets(env: Mapping[str, str]) -> list[Problem]:
    """The admin token and the master key: set, real, 16+ characters (as the agent wants)."""
    found = (check_secret(env, name, min_length=16) for name in AGENT_SECRETS)
    return [p for p in found if p]


def sqlite_allowed(env: Mapping[str, str]) -> bool:
    return env.get(ALLOW_SQLITE) == "1"


def check_store_url(env: Mapping[str, str]) -> Problem | None:
    """The store is PostgreSQL; a SQLite file only where MATRX_ALLOW_SQLITE=1 says so."""
    url = env.get(STORE_VAR, "")
    allow = f"or set {ALLOW_SQLITE}=1 for a trial or test host (not durable)"
    fix = f"set {STORE_VAR}=postgresql://USER:PASSWORD@HOST:5432/DB (Supabase) {allow}"
    if not url:
        return None if sqlite_allowed(env) else Problem(STORE_VAR, "is not set", fix)
    if looks_like_placeholder(url):
        return Problem(STORE_VAR, "is a placeholder", fix)
    try:
        backend = make_url(normalize_pg_url(url)).get_backend_name()
    except ArgumentError:
        return Problem(STORE_VAR, "is not a database URL", fix)
    if backend == "postgresql" or (backend == "sqlite" and sqlite_allowed(env)):
        return None
    return Problem(STORE_VAR, f"is a {backend} URL, not PostgreSQL", fix)


def check_bucket(env: Mapping[str, str]) -> list[Problem]:
    """A bucket with its credentials; no bucket (a local folder) only with MATRX_ALLOW_SQLITE=1."""
    if not env.get("MATRX_S3_BUCKET"):
        if sqlite_allowed(env):
            return []
        fix = f"set MATRX_S3_BUCKET to the backups bucket, or {ALLOW_SQLITE}=1 on a trial host"
        return [Problem("MATRX_S3_BUCKET", "is not set: backups would stay on this disk", fix)]
    found = (check_secret(env, name) for name in S3_SECRETS)
    return [p for p in found if p]


def this_repository() -> str:
    """Where this checkout came from (its ``origin``), else its path: the manager's source."""
    found = subprocess.run(
        ["git", "-C", str(ROOT), "remote", "get-url", "origin"],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() if found.returncode == 0 and found.stdout.strip() else str(ROOT)


def platform_variables(env: Mapping[str, str]) -> dict[str, str]:
    """The env file's values for the platform specs; MATRX_REPO defaults to this repository."""
    return {"MATRX_REPO": env.get("MATRX_REPO") or this_repository(), **env}


def check_platform(env: Mapping[str, str], directory: Path) -> Problem | None:
    """Every variable the platform specs name is in the env file, and each spec is valid."""
    try:
        load_platform_specs(platform_variables(env), directory)
    except PlatformSpecError as exc:
        return Problem("MATRX_PLATFORM_DIR", str(exc), "see docs/supervision.md#platform-services")
    return None


def check_values(env: Mapping[str, str]) -> list[Problem]:
    """Stage 2: everything that can be judged from the file alone."""
    found: list[Problem | None] = [*check_agent_secrets(env), check_store_url(env)]
    found += check_bucket(env)
    found.append(check_platform(env, platform_dir(env)))
    return [p for p in found if p]


# --- stages 3-5: the store, the master key, the backups ----------------------------------------


def platform_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("MATRX_PLATFORM_DIR") or SERVICES_DIR)


def data_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("MATRX_DATA_DIR") or DEFAULT_DATA_DIR)


def store_url(env: Mapping[str, str]) -> str:
    """The SQLAlchemy URL the agent will use (the same rule as AgentSettings.store_url)."""
    url = env.get(STORE_VAR)
    if url:
        return normalize_pg_url(url)
    return f"sqlite:///{data_dir(env) / 'state.db'}"


def masked(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None: not SQLite)."""
    parsed = make_url(url)
    return Path(parsed.database or "") if parsed.get_backend_name() == "sqlite" else None


def check_store(store: Store) -> Problem | None:
    """The store answers."""
    try:
        store.ping()
    except Exception as exc:
        return Problem(
            STORE_VAR,
            f"the state store at {masked(store.url)} cannot be reached: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''}",
            "check the host, port, user and password, and that the database allows this host",
        )
    return None


def check_canary(store: Store, box: SecretBox, tables: Iterable[str]) -> Problem | None:
    """The master key decrypts the store's canary (a store without one is a new store)."""
    if "settings" not in tables or canary_ok(store, box) is not False:
        return None
    return Problem(
        "MATRX_MASTER_KEY",
        "does not decrypt the store's canary: every secret in this store would be unreadable",
        HINT,
    )


def newest_backups(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest succeeded backup of each service, and the newest system backup."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if row["status"] != "succeeded":
            continue
        key = (row["kind"], row.get("service") or "")
        if key not in newest or _at(row) > _at(newest[key]):
            newest[key] = row
    return [newest[k] for k in sorted(newest)]


def _at(row: dict[str, Any]) -> datetime:
    return row["created_at"].replace(tzinfo=None)


def check_backups(
    rows: Iterable[dict[str, Any]], exists: Callable[[str], bool], where: str
) -> list[Problem]:
    """Each newest backup's manifest ``exists`` in the blob store (``where`` names it)."""
    out = []
    for row in newest_backups(rows):
        key = row.get("manifest_key")
        if not key or exists(key):
            continue
        what = f"the {row['kind']} backup" + (f" of {row['service']}" if row["service"] else "")
        out.append(
            Problem(
                "MATRX_S3_PREFIX",
                f"{what} the store names as newest ({row['id']}, {_at(row):%Y-%m-%d %H:%M} UTC) "
                f"has no manifest at {where}/{key}",
                "point MATRX_S3_BUCKET and MATRX_S3_PREFIX at where the old host wrote its "
                "backups (unset, MATRX_S3_PREFIX is the one the store keeps, else this host's "
                "name, which a new host may not share), with AWS_ENDPOINT_URL for a non-AWS "
                "endpoint",
            )
        )
    return out


def blob_store(env: Mapping[str, str]) -> tuple[BlobStore | None, str]:
    """The blob store the agent will use, made without creating anything, and its name.

    None: a local folder that does not exist (so it holds nothing).
    """
    bucket = env.get("MATRX_S3_BUCKET")
    if bucket:
        prefix = env.get("MATRX_S3_PREFIX") or socket.gethostname()
        return S3BlobStore(bucket, env.get("AWS_ENDPOINT_URL"), prefix), f"s3://{bucket}/{prefix}"
    root = data_dir(env) / "blobs"
    return (LocalBlobStore(root) if root.is_dir() else None), str(root)


def check_blobs(env: Mapping[str, str], rows: list[dict[str, Any]]) -> list[Problem]:
    """The bucket answers, and holds the manifests of the catalog's newest backups."""
    try:
        blobs, where = blob_store(env)
        if blobs is None:
            return check_backups(rows, lambda _key: False, where)
        blobs.check()
        return check_backups(rows, blobs.exists, where)
    except MatrxError as exc:
        fix = "check MATRX_S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL"
        return [Problem("MATRX_S3_BUCKET", exc.message, fix)]


def with_stored_prefix(env: Mapping[str, str], store: Store, tables: set[str]) -> dict[str, str]:
    """The env, with the old host's bucket prefix from the store when the env names none
    (the agent takes it from there too: onbox_agent.hostsettings)."""
    out = dict(env)
    if out.get("MATRX_S3_PREFIX") or "settings" not in tables:
        return out
    raw = get_setting(store, "host_settings")
    with contextlib.suppress(ValueError, TypeError):
        prefix = json.loads(raw or "{}").get("s3_prefix")
        if prefix:
            out["MATRX_S3_PREFIX"] = str(prefix)
    return out


def check_state(env: Mapping[str, str]) -> list[Problem]:
    """Stages 3-5 against the real store and blob store; reads only."""
    url = store_url(env)
    file = sqlite_file(url)
    if file is not None and not file.exists():
        return []  # a new embedded store: nothing to reach or decrypt yet
    store = Store(url)
    try:
        if problem := check_store(store):
            return [problem]
        tables = set(inspect(store.engine).get_table_names())
        box = SecretBox(env["MATRX_MASTER_KEY"])
        if problem := check_canary(store, box, tables):
            return [problem]
        if "backups" not in tables:
            return []
        rows = BackupCatalog(store).find(status="succeeded", limit=10_000)
        return check_blobs(with_stored_prefix(env, store, tables), rows)
    finally:
        store.dispose()


def problems(env_file: Path) -> list[Problem]:
    """Every problem of the first stage that has any (later stages need the earlier ones)."""
    env, problem = read_env_file(env_file)
    if problem:
        return [problem]
    if found := check_values(env):
        return found
    _export_s3_credentials(env)
    return check_state(env)


def _export_s3_credentials(env: Mapping[str, str]) -> None:
    """boto3 reads its credentials from the environment: give it the env file's."""
    for name in (*S3_SECRETS, "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION"):
        if name in env:
            os.environ[name] = env[name]


def report(found: list[Problem]) -> str:
    """What a person reads when bootstrap refuses."""
    head = f"bootstrap: refused ({len(found)} problem(s)); nothing was changed:"
    return "\n".join([head, *(line for p in found for line in p.lines())])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m matrx_ship.bootcheck", description=__doc__)
    parser.add_argument("--env-file", required=True, type=Path)
    args = parser.parse_args(argv)
    found = problems(args.env_file)
    if found:
        print(report(found), file=sys.stderr)
        return REFUSED
    print("bootstrap: the env file, the store, the master key and the backups check out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
