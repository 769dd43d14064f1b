"""The command: --list, --check, the restore, and its exit codes (0 done, 2 refused, 1 failed)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn, TextIO

from matrx_ship.blobs import BlobStore
from matrx_ship.errors import MatrxError, NotFound, Unavailable
from onbox_agent.restore_store.base import ID, SYSTEM_PREFIX, Refused
from onbox_agent.restore_store.blob import (
    blobs_of,
    check_master_key,
    find_folder,
    read_manifest,
    read_settings,
    verify_parts,
    want_rows,
)
from onbox_agent.restore_store.load import load, open_store, refuse_unless_empty
from onbox_agent.restore_store.parts import Folder, backup_folders, count_report
from onbox_agent.settings import RestoreStoreSettings

# --- the command --------------------------------------------------------------------------


def list_backups(blobs: BlobStore, out: TextIO) -> int:
    """Print the system backups the blob store holds: id, time, size, newest first."""
    folders = backup_folders(blobs.list(SYSTEM_PREFIX))
    if not folders:
        raise NotFound(
            f"The blob store holds no system backups below {SYSTEM_PREFIX}.",
            code="no_system_backups",
            hint="Check MATRX_S3_BUCKET, MATRX_S3_PREFIX (the lost host's name) or MATRX_DATA_DIR.",
        )
    print(f"{'id':<17}  {'time (UTC)':<25}  {'bytes':>12}  status", file=out)
    for f in folders:
        when, size, status = _listed(blobs, f)
        print(f"{f.id:<17}  {when:<25}  {size:>12}  {status}", file=out)
    return 0


def _listed(blobs: BlobStore, folder: Folder) -> tuple[str, str, str]:
    """A folder's time, size and status for --list."""
    if not folder.has_manifest:
        return folder.stamp, "-", "incomplete: no manifest, not restorable"
    try:
        m = read_manifest(blobs, folder)
        return m["created_at"], str(sum(p["size"] for p in m["parts"])), "complete"
    except (MatrxError, ValueError, KeyError) as exc:
        why = exc.message if isinstance(exc, MatrxError) else f"{type(exc).__name__}: {exc}"
        return folder.stamp, "-", f"damaged manifest, not restorable ({why[:120]})"


def restore(
    settings: RestoreStoreSettings, backup_id: str, url: str, check: bool, out: TextIO
) -> int:
    """Find the backup, refuse a filled target, check every part and the master key, then
    load it (unless ``check``) and print the row counts per table against the manifest's."""
    blobs = blobs_of(settings)
    manifest = read_manifest(blobs, find_folder(blobs, backup_id))
    want = want_rows(manifest)
    made = manifest["created_at"]
    print(
        f"backup {backup_id}, made {made}: {len(want)} tables, {sum(want.values())} rows", file=out
    )
    store = open_store(url)
    try:
        with store.engine.connect() as conn:
            refuse_unless_empty(conn)
        print(
            f"the target {store.engine.url.render_as_string(hide_password=True)} is empty", file=out
        )
        verify_parts(blobs, manifest)
        print("every part matches its .sha256 sidecar and the manifest", file=out)
        key = settings.master_key.get_secret_value() if settings.master_key else None
        check_master_key(blobs, manifest, key, out)
        if check:
            print("check only: nothing was written", file=out)
            return 0
        got = load(store, blobs, manifest, out)
    finally:
        store.dispose()
    print(f"{'table':<20}  {'backup':>8}  {'restored':>8}", file=out)
    for name, w, g in count_report(want, got):
        print(f"{name:<20}  {w:>8}  {g:>8}", file=out)
    print("restored: every table holds the rows the backup's manifest lists", file=out)
    return 0


class _Parser(argparse.ArgumentParser):
    """Bad arguments are an error like any other: JSON on stderr, exit 2."""

    def error(self, message: str) -> NoReturn:
        body = {"error": "bad_arguments", "message": message, "hint": f"See {self.prog} --help."}
        print(json.dumps(body), file=sys.stderr)
        sys.exit(2)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = _Parser(
        prog="python -m onbox_agent.restore_store",
        description="Restore a system backup into an EMPTY state store (docs/backups.md).",
    )
    p.add_argument("--list", action="store_true", help="print the system backups the store holds")
    p.add_argument("--backup-id", help="the system backup to restore (bak_ + 12 hex)")
    p.add_argument("--store-url", help="the EMPTY target store (postgresql://… or sqlite:///…)")
    p.add_argument("--env-file", type=Path, help="KEY=VALUE file with the blob store's variables")
    p.add_argument("--check", action="store_true", help="check everything, write nothing")
    args = p.parse_args(argv)
    if not args.list and not (args.backup_id and args.store_url):
        p.error("give --list, or --backup-id and --store-url")
    if args.backup_id and not ID.match(args.backup_id):
        p.error("--backup-id looks like bak_0123456789ab")
    if args.env_file and not args.env_file.is_file():
        p.error(f"--env-file {args.env_file} is not a file")
    return args


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Run the command; the exit code (0 done, 2 refused, 1 failed; errors as JSON on stderr)."""
    args = parse(argv)
    try:
        settings = read_settings(args.env_file)
        if args.list:
            return list_backups(blobs_of(settings), out)
        return restore(settings, args.backup_id, args.store_url, args.check, out)
    except Refused as exc:
        print(json.dumps(exc.body()), file=sys.stderr)
        return 2
    except MatrxError as exc:
        print(json.dumps(exc.body()), file=sys.stderr)
        return 1
    except Exception as exc:  # a rescue tool says what broke, in the same shape
        err = Unavailable(
            f"The restore failed and was rolled back: {type(exc).__name__}: {str(exc)[:500]}",
            code="restore_failed",
            hint="Fix the cause named here and run the command again; nothing was changed.",
        )
        print(json.dumps(err.body()), file=sys.stderr)
        return 1
