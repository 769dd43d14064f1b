"""Where this checkout is, and the shared folder laid beside it (``../shared``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED_DIR_VAR = "MATRX_SHARED_DIR"  # where shared/ is when not beside this checkout
NO_SHARED_VAR = "MATRX_NO_SHARED"  # "1": this environment has no shared/ at all


def shared_path(*parts: str) -> Path:
    """A path in the shared folder; fails the test when it is missing.

    CI lays the shared folder beside the clone as ``../shared``; a git worktree elsewhere
    names it with MATRX_SHARED_DIR. Only MATRX_NO_SHARED=1 turns a missing folder into a
    skip, so a skip is always declared by the environment, never a quiet pass.
    """
    base = Path(os.environ.get(SHARED_DIR_VAR) or ROOT.parent / "shared")
    path = base.joinpath(*parts)
    if path.exists():
        return path
    if os.environ.get(NO_SHARED_VAR) == "1":
        pytest.skip(f"{NO_SHARED_VAR}=1: this environment has no shared folder ({path})")
    pytest.fail(
        f"{path} is missing: lay the shared folder beside this checkout as ../shared, set "
        f"{SHARED_DIR_VAR} to it, or set {NO_SHARED_VAR}=1 where there is none"
    )
