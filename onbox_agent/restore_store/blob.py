"""The blob side: finding a system backup, its manifest, every part checked, the master key."""

from __future__ import annotations

import contextlib
import hashlib
import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import boto3

from matrx_ship.blobs import BlobStore, blob_store_for
from matrx_ship.crypto import PREFIX, SecretBox
from matrx_ship.errors import NotFound
from onbox_agent.archive import gunzip_chunks
from onbox_agent.restore_store.base import (
    CHUNK,
    SERVICE_PREFIX,
    SIDECAR,
    SKIP,
    SYSTEM_PREFIX,
    Refused,
)
from onbox_agent.restore_store.parts import Folder, backup_folders
from onbox_agent.settings import RestoreStoreSettings

# --- the blob side ------------------------------------------------------------------------


def read_settings(env_file: Path | None) -> RestoreStoreSettings:
    """The environment's settings, and the env file's when given (the environment wins)."""
    if env_file is None:
        return RestoreStoreSettings()  # type: ignore[call-arg]
    return RestoreStoreSettings(_env_file=env_file)  # type: ignore[call-arg]


def blobs_of(s: RestoreStoreSettings) -> BlobStore:
    """The blob store the settings configure (S3 with the env file's key, or the folder)."""
    secret = s.aws_secret_access_key.get_secret_value() if s.aws_secret_access_key else None
    session = boto3.Session(
        aws_access_key_id=s.aws_access_key_id,
        aws_secret_access_key=secret,
        region_name=s.aws_region,
    )
    return blob_store_for(s.s3_bucket, s.s3_endpoint_url, s.s3_prefix, s.data_dir, session)


def find_folder(blobs: BlobStore, backup_id: str) -> Folder:
    """The backup's folder; Refused when it is a service backup, unfinished or absent."""
    found = [f for f in backup_folders(blobs.list(SYSTEM_PREFIX)) if f.id == backup_id]
    if found and found[0].has_manifest:
        return found[0]
    if found:
        raise Refused(
            f"The system backup {backup_id} has no manifest: it failed or never finished.",
            code="backup_not_usable",
            hint="Pick a whole one from --list (its status says complete).",
        )
    if any(f"-{backup_id}/" in k for k in blobs.list(SERVICE_PREFIX)):
        raise Refused(
            f"The backup {backup_id} is a service backup, not a system backup.",
            code="not_a_system_backup",
            hint="Service backups restore through the agent: POST /v1/backups/{id}/restore.",
        )
    raise Refused(
        f"There is no backup {backup_id} below {SYSTEM_PREFIX} in this blob store.",
        code="backup_not_found",
        hint="List what the bucket holds with --list; check MATRX_S3_BUCKET, MATRX_S3_PREFIX "
        "(the lost host's name) or MATRX_DATA_DIR.",
    )


def sidecar_sha(blobs: BlobStore, key: str) -> str:
    """The sha256 the ``<key>.sha256`` sidecar records (``sha256sum -c`` format)."""
    try:
        with contextlib.closing(blobs.open(key + SIDECAR)) as f:
            line = f.read().decode(errors="replace")
    except NotFound as exc:
        raise _corrupt(key, "its .sha256 sidecar is missing") from exc
    return line.split(" ", 1)[0].strip()


def read_manifest(blobs: BlobStore, folder: Folder) -> dict[str, Any]:
    """The folder's manifest, checked against its sidecar; Refused unless a system backup's."""
    key = folder.prefix + "manifest.json"
    with contextlib.closing(blobs.open(key)) as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() != sidecar_sha(blobs, key):
        raise _corrupt(key, "its sha256 differs from its sidecar's")
    try:
        manifest: dict[str, Any] = json.loads(data)
    except ValueError as exc:
        raise _corrupt(key, f"it is not JSON ({exc})") from exc
    if manifest.get("kind") != "system" or manifest.get("id") != folder.id:
        raise Refused(
            f"{key} is not the manifest of the system backup {folder.id}.",
            code="not_a_system_backup",
            hint="Pick a system backup from --list.",
        )
    manifest["sha256"] = hashlib.sha256(data).hexdigest()
    manifest["key"] = key
    return manifest


def table_parts(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in manifest["parts"] if p["kind"] == "table"}


def secret_values(services: Iterable[dict[str, Any]], dbs: Iterable[dict[str, Any]]) -> list[str]:
    """The encrypted values of ``services`` rows (env values) and ``databases`` rows
    (passwords)."""
    env = [v for r in services for v in (r.get("spec") or {}).get("env", {}).values()]
    values = [*env, *(r.get("password_enc") for r in dbs)]
    return [v for v in values if isinstance(v, str) and v.startswith(PREFIX)]


def check_master_key(
    blobs: BlobStore, manifest: dict[str, Any], key: str | None, out: TextIO
) -> None:
    """Refuse when the given master key does not open every secret in the backup: the
    restored store would work only with another key."""
    if key is None:
        print("MATRX_MASTER_KEY is not set: the encrypted values were not checked", file=out)
        return
    parts = table_parts(manifest)
    rows = {
        n: list(table_rows(blobs, parts[n])) if n in parts else []
        for n in ("services", "databases")
    }
    values = secret_values(rows["services"], rows["databases"])
    box = SecretBox(key)
    bad = [v for v in values if not _opens(box, v)]
    if bad:
        raise Refused(
            f"MATRX_MASTER_KEY does not open {len(bad)} of the backup's {len(values)} encrypted "
            "values: the restored store would not work with this key.",
            code="wrong_master_key",
            hint="Use the lost host's MATRX_MASTER_KEY (an agent on the restored store needs it), "
            "or leave it out of the environment to restore without this check.",
        )
    print(f"MATRX_MASTER_KEY opens the backup's {len(values)} encrypted values", file=out)


def _opens(box: SecretBox, value: str) -> bool:
    try:
        box.decrypt(value)
    except ValueError:
        return False
    return True


def want_rows(manifest: dict[str, Any]) -> dict[str, int]:
    """Rows per table the manifest records (the schema's version table aside)."""
    return {n: int(p["detail"]["rows"]) for n, p in table_parts(manifest).items() if n not in SKIP}


def verify_parts(blobs: BlobStore, manifest: dict[str, Any]) -> None:
    """Every part read whole: its sha256 equals its sidecar's and the manifest's, and a
    table's JSON lines number the rows the manifest records."""
    for part in manifest["parts"]:
        if part["kind"] == "table":
            lines = sum(chunk.count(b"\n") for chunk in _table_chunks(blobs, part))
            if lines != part["detail"]["rows"]:
                raise _corrupt(
                    part["key"], f"{lines} rows, the manifest says {part['detail']['rows']}"
                )
        else:
            for _ in _checked_chunks(blobs, part):
                pass


def _checked_chunks(blobs: BlobStore, part: dict[str, Any]) -> Iterator[bytes]:
    """The part's bytes; at the end, a mismatch with the sidecar or manifest raises."""
    want = sidecar_sha(blobs, part["key"])
    if want != part["sha256"]:
        raise _corrupt(part["key"], "its sidecar and the manifest record different sha256s")
    digest, size = hashlib.sha256(), 0
    with contextlib.closing(blobs.open(part["key"])) as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            yield chunk
    if digest.hexdigest() != want or size != part["size"]:
        raise _corrupt(part["key"], "its bytes are not those recorded at backup time")


def _table_chunks(blobs: BlobStore, part: dict[str, Any]) -> Iterator[bytes]:
    """The table's JSON lines, decompressed; damage found on the way is named as such."""
    try:
        yield from gunzip_chunks(_ChunkFile(_checked_chunks(blobs, part)))  # type: ignore[arg-type]
    except zlib.error as exc:
        raise _corrupt(part["key"], f"it does not decompress ({exc})") from exc


class _ChunkFile:
    """``read`` over an iterator of chunks (what gunzip_chunks reads from)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks

    def read(self, _n: int = -1) -> bytes:
        return next(self.chunks, b"")


def table_rows(blobs: BlobStore, part: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The table's rows, one dict a JSON line (the whole object is hash-checked on the way)."""
    rest = b""
    for chunk in _table_chunks(blobs, part):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield from (_parsed(line, part) for line in lines)
    if rest.strip():
        yield _parsed(rest, part)


def _parsed(line: bytes, part: dict[str, Any]) -> dict[str, Any]:
    try:
        row: dict[str, Any] = json.loads(line)
    except ValueError as exc:
        raise _corrupt(part["key"], f"a line is not JSON ({exc})") from exc
    return row


def _corrupt(key: str, why: str) -> Refused:
    return Refused(
        f"The object {key} cannot be trusted: {why}.",
        code="backup_corrupt",
        hint="Pick an older system backup from --list; this one is damaged.",
    )
