"""Offline, Docker-free bundling of a Lambda directory with the shared library.

A bundle (the asset root, which Lambda mounts as /var/task) holds:

1. every file of the function's directory (`handler.py`, helpers); when that directory is a
   package inside a package (`lambdas/health_probe/`), it is also copied to that import
   path, so the handler imports its siblings as `lambdas.health_probe.probe`, the same
   way the tests and the command line do,
2. the functions' own shared package, the sibling `common/` of such a directory
   (`lambdas/common/`), at its import path `lambdas.common`,
3. the shared library `matrx_ship/`, copied whole,
4. the distributions named in the function's `requirements.txt` and their dependencies,
   copied from the Python environment that runs the synth. Their versions are therefore the
   ones `uv.lock` pins, and nothing is downloaded: synth works without a network.

What is not copied comes from elsewhere at run time: boto3 and friends from the Lambda
runtime, Powertools (and pydantic, which needs compiled code) from the Powertools layer.
A distribution with compiled code is refused: the copy here is built for this machine's
Python, not for Lambda's python3.12 on x86_64 (except `OPTIONAL_SPEEDUPS`, whose compiled
part is left out because the package runs without it).

`requirements.txt` names distributions, one a line (`httpx`, or `httpx>=0.27` to assert a
range against the installed version); pip options and URLs are refused.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path, PurePath
from typing import cast

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

RUNTIME = lambda_.Runtime.PYTHON_3_12
COMMON = "common"  # the package beside the functions that every one of them imports

# The python3.12 x86_64 Lambda environment, for evaluating dependency markers.
TARGET_MARKERS = {
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
}

# Shipped by the Lambda python3.12 runtime.
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "six", "python-dateutil"}
)

# Shipped by the Powertools layer (it installs aws-lambda-powertools[all]).
LAYER_PROVIDED = frozenset(
    {
        "aws-lambda-powertools",
        "pydantic",
        "pydantic-core",
        "pydantic-settings",
        "annotated-types",
        "typing-inspection",
        "python-dotenv",
        "aws-xray-sdk",
        "wrapt",
        "fastjsonschema",
        "aws-encryption-sdk",
        "cryptography",
        "cffi",
        "pycparser",
        "jsonpath-ng",
        "pyjwt",
    }
)

# Compiled only to go faster: each falls back to pure Python when its extension does not
# load, so it is vendored without its native files (websockets: `speedups`, for masking;
# sqlalchemy: its `*_cy` Cython modules, whose `.py` twins ship beside them; markupsafe,
# which Mako and so Alembic import: `_speedups`, with `_native` as the fallback; pyyaml:
# `_yaml`, the libyaml binding, without which it parses in pure Python).
OPTIONAL_SPEEDUPS = frozenset({"websockets", "sqlalchemy", "markupsafe", "pyyaml"})

_SKIP_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_NATIVE_SUFFIXES = {".so", ".pyd", ".dylib"}


class BundlingError(RuntimeError):
    """The bundle cannot be made offline; the message says which distribution and why."""


def bundle(*, function_dir: Path, shared_lib: Path, output_dir: Path) -> list[str]:
    """Fill `output_dir` with the function, the shared library and its vendored
    distributions; return the vendored distribution names."""
    if not (function_dir / "handler.py").is_file():
        raise BundlingError(f"{function_dir}/handler.py not found")
    _copy_tree(function_dir, output_dir)
    _copy_as_package(function_dir, output_dir)
    _copy_tree(shared_lib, output_dir / shared_lib.name)
    dists = resolve(read_requirements(function_dir / "requirements.txt"))
    for dist in dists:
        copy_distribution(dist, output_dir)
    return sorted(_name(dist) for dist in dists)


def read_requirements(path: Path) -> list[Requirement]:
    """Parse a names-only requirements file; a missing file means no requirements."""
    if not path.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [_parse(line, path) for line in lines if line]


def resolve(requirements: Iterable[Requirement]) -> list[metadata.Distribution]:
    """The installed distributions that satisfy `requirements`, dependencies included,
    less what the runtime and the layer provide."""
    found: dict[str, metadata.Distribution] = {}
    pending = list(requirements)
    while pending:
        req = pending.pop()
        name = canonicalize_name(req.name)
        if name in RUNTIME_PROVIDED | LAYER_PROVIDED or name in found:
            continue
        found[name] = _installed(req)
        pending.extend(_dependencies(found[name], req.extras))
    return list(found.values())


def copy_distribution(dist: metadata.Distribution, output_dir: Path) -> None:
    """Copy a distribution's importable files and its metadata; native files are refused,
    or left out for `OPTIONAL_SPEEDUPS`."""
    if _name(dist) not in OPTIONAL_SPEEDUPS:
        _require_pure(dist)
    site = Path(str(dist.locate_file(""))).resolve()
    for file in dist.files or []:
        source = Path(str(dist.locate_file(file))).resolve()
        if not source.is_relative_to(site) or _skipped(file) or not source.is_file():
            continue  # console scripts live outside site-packages; Lambda needs none
        target = output_dir / source.relative_to(site)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def lambda_code(*, function_dir: Path, shared_lib: Path) -> lambda_.Code:
    """Lambda code built by `LocalBundler`; the asset hash is the bundle's content, so a
    change in `lambdas/common/`, `matrx_ship/` or a vendored version deploys a new function
    version."""
    return lambda_.Code.from_asset(
        str(function_dir),
        asset_hash_type=cdk.AssetHashType.OUTPUT,
        bundling=cdk.BundlingOptions(
            image=RUNTIME.bundling_image,  # never pulled: the local bundler always answers
            # jsii calls try_bundle(output_dir, options) with the options struct as one
            # argument; the generated ILocalBundling protocol spells it as keywords.
            local=cast(
                cdk.ILocalBundling,
                LocalBundler(function_dir=function_dir, shared_lib=shared_lib),
            ),
        ),
    )


@jsii.implements(cdk.ILocalBundling)
class LocalBundler:
    """CDK's local-bundling hook; it never falls back to Docker."""

    def __init__(self, *, function_dir: Path, shared_lib: Path) -> None:
        self.function_dir = function_dir
        self.shared_lib = shared_lib

    def try_bundle(self, output_dir: str, options: cdk.BundlingOptions) -> bool:
        bundle(
            function_dir=self.function_dir, shared_lib=self.shared_lib, output_dir=Path(output_dir)
        )
        return True


def _parse(line: str, path: Path) -> Requirement:
    try:
        req = Requirement(line)
    except InvalidRequirement as exc:
        raise BundlingError(f"{path}: {line!r} is not a distribution name ({exc})") from None
    if req.url:
        raise BundlingError(f"{path}: {line!r}: URLs cannot be vendored offline")
    return req


def _installed(req: Requirement) -> metadata.Distribution:
    try:
        dist = metadata.distribution(req.name)
    except metadata.PackageNotFoundError:
        raise BundlingError(
            f"{req.name} is not installed in the environment running the synth; add it to "
            "the project's dependencies so uv.lock pins it"
        ) from None
    if not req.specifier.contains(dist.version, prereleases=True):
        raise BundlingError(f"{req.name} {dist.version} is installed but {req} is required")
    return dist


def _dependencies(dist: metadata.Distribution, extras: set[str]) -> Iterator[Requirement]:
    for line in dist.requires or []:
        req = Requirement(line)
        if req.marker is None or any(_applies(req.marker, e) for e in {"", *extras}):
            yield req


def _applies(marker: Marker, extra: str) -> bool:
    return marker.evaluate({**TARGET_MARKERS, "extra": extra})


def _require_pure(dist: metadata.Distribution) -> None:
    wheel = dist.read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
    native = any(PurePath(str(f)).suffix in _NATIVE_SUFFIXES for f in dist.files or [])
    if native or not tags or not all(tag.endswith("-none-any") for tag in tags):
        raise BundlingError(
            f"{_name(dist)} {dist.version} has compiled code built for this machine, not for "
            "Lambda's python3.12 x86_64; take it from a layer or use a pure-Python alternative"
        )


def _copy_as_package(function_dir: Path, output_dir: Path) -> None:
    """`lambdas/<name>/` again at its import path, with the parent package's `__init__.py`
    and its sibling `lambdas/common/` when there is one."""
    parent = function_dir.parent
    if not (function_dir / "__init__.py").is_file() or not (parent / "__init__.py").is_file():
        return
    _copy_tree(function_dir, output_dir / parent.name / function_dir.name)
    shutil.copyfile(parent / "__init__.py", output_dir / parent.name / "__init__.py")
    if (parent / COMMON / "__init__.py").is_file():
        _copy_tree(parent / COMMON, output_dir / parent.name / COMMON)


def _copy_tree(source: Path, target: Path) -> None:
    ignore = shutil.ignore_patterns(*_SKIP_PARTS, "*.pyc")
    shutil.copytree(source, target, ignore=ignore, dirs_exist_ok=True)


def _skipped(file: PurePath) -> bool:
    native_or_cache = file.suffix in {".pyc", *_NATIVE_SUFFIXES}
    return native_or_cache or bool(_SKIP_PARTS.intersection(file.parts))


def _name(dist: metadata.Distribution) -> str:
    return canonicalize_name(dist.metadata["Name"])
