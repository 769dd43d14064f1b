"""Git sources: a bare mirror per service, exact commits, exports and commit ranges."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matrx_ship.errors import InvalidInput, NotFound, Unavailable

_SHA = re.compile(r"[0-9a-f]{7,40}")
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")
ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C", "PATH": "/usr/bin:/bin"}


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    date: str
    message: str


class GitRepo:
    """A bare mirror of one service's repository under the agent's data folder."""

    def __init__(self, path: Path, url: str) -> None:
        self.path, self.url = path, url

    def _git(self, *args: str, timeout: float = 300) -> str:
        r = subprocess.run(
            ["git", "-C", str(self.path), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=ENV,
        )
        if r.returncode != 0:
            raise _GitFailed(r.stderr.strip()[-500:] or f"git {args[0]} failed")
        return r.stdout

    def sync(self) -> None:
        """Clone the mirror, or fetch every branch into it."""
        try:
            if not (self.path / "HEAD").exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                shutil.rmtree(self.path, ignore_errors=True)
                r = subprocess.run(
                    ["git", "clone", "--mirror", "--", self.url, str(self.path)],
                    capture_output=True,
                    text=True,
                    timeout=600,
                    env=ENV,
                )
                if r.returncode != 0:
                    raise _GitFailed(r.stderr.strip()[-500:])
                return
            self._git("remote", "set-url", "origin", self.url)
            self._git("fetch", "--prune", "origin")
        except _GitFailed as exc:
            raise Unavailable(
                f"The repository {self.url} could not be fetched: {exc}",
                hint="Check the URL, the network and the deploy key.",
                code="git_unreachable",
            ) from exc

    def resolve(self, ref: str, branch: str) -> str:
        """The full sha of ``ref`` (a commit sha) or, when ``ref`` is empty, of the branch head."""
        if not ref:
            return self._branch_head(branch)
        if not _SHA.fullmatch(ref):
            if not _REF.fullmatch(ref) or ".." in ref:
                raise InvalidInput(
                    f"'{ref[:60]}' is neither a commit sha nor a branch name.", code="bad_ref"
                )
            return self._branch_head(ref)
        try:
            return self._git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
        except _GitFailed as exc:
            raise NotFound(
                f"The commit '{ref}' is not in {self.url}.",
                code="unknown_commit",
                hint="Push it first, or pick a sha from GET /v1/services/{name}/pending.",
            ) from exc

    def _branch_head(self, branch: str) -> str:
        try:
            return self._git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}").strip()
        except _GitFailed as exc:
            raise NotFound(
                f"The branch '{branch}' does not exist in {self.url}.",
                code="branch_not_found",
                hint="Fix the service's source branch (PUT /v1/services/{name}).",
            ) from exc

    def commit(self, sha: str) -> Commit:
        """Author, date and subject of one commit."""
        out = self._git("show", "-s", "--format=%H%x00%an <%ae>%x00%aI%x00%s", sha, "--")
        sha_, author, date, message = out.rstrip("\n").split("\x00", 3)
        return Commit(sha_, author, date, message)

    def commits_between(self, old: str, new: str, limit: int = 200) -> list[Commit]:
        """Commits reachable from ``new`` but not from ``old``, newest first."""
        out = self._git(
            "log",
            f"--max-count={limit}",
            "--format=%H%x00%an <%ae>%x00%aI%x00%s",
            f"{old}..{new}",
            "--",
        )
        return [Commit(*line.split("\x00", 3)) for line in out.splitlines() if line]

    def diffstat(self, old: str, new: str) -> dict[str, Any]:
        """Files changed between two commits, with insertions and deletions."""
        files: list[dict[str, Any]] = []
        for line in self._git("diff", "--numstat", old, new, "--").splitlines():
            added, removed, path = line.split("\t", 2)
            files.append(
                {
                    "path": path,
                    "added": int(added) if added.isdigit() else None,
                    "removed": int(removed) if removed.isdigit() else None,
                }
            )
        return {
            "files": files,
            "files_changed": len(files),
            "insertions": sum(f["added"] or 0 for f in files),
            "deletions": sum(f["removed"] or 0 for f in files),
        }

    def has(self, sha: str) -> bool:
        try:
            self._git("cat-file", "-e", f"{sha}^{{commit}}")
            return True
        except _GitFailed:
            return False

    def export(self, sha: str, dest: Path) -> None:
        """The tree of one commit, written to ``dest`` (no .git folder)."""
        r = subprocess.run(
            ["git", "-C", str(self.path), "archive", "--format=tar", sha],
            capture_output=True,
            timeout=600,
            env=ENV,
        )
        if r.returncode != 0:
            raise Unavailable(f"git archive failed: {r.stderr.decode(errors='replace')[-300:]}")
        with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tar:
            tar.extractall(dest, filter="data")


class _GitFailed(Exception):
    pass
