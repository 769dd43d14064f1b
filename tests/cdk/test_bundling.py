"""Offline bundling: what lands in a Lambda bundle, and what is refused."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from cdk.bundling import BundlingError, bundle, read_requirements, resolve


@pytest.fixture
def shared_lib(tmp_path: Path) -> Path:
    lib = tmp_path / "matrx_ship"
    (lib / "__pycache__").mkdir(parents=True)
    (lib / "__init__.py").write_text('"""shared"""\n')
    (lib / "agent_client.py").write_text("import httpx\n")
    (lib / "__pycache__" / "agent_client.cpython-311.pyc").write_bytes(b"\0")
    return lib


def make_function(root: Path, requirements: str | None = None) -> Path:
    function_dir = root / "probe"
    function_dir.mkdir()
    (function_dir / "handler.py").write_text("def handler(event, context):\n    return 'ok'\n")
    if requirements is not None:
        (function_dir / "requirements.txt").write_text(requirements)
    return function_dir


def test_bundle_holds_handler_shared_library_and_pure_dependencies(
    tmp_path: Path, shared_lib: Path
) -> None:
    function_dir = make_function(tmp_path, "httpx>=0.27\n")
    out = tmp_path / "out"
    vendored = bundle(function_dir=function_dir, shared_lib=shared_lib, output_dir=out)
    assert {"httpx", "httpcore", "h11", "anyio", "idna", "certifi"} <= set(vendored)
    assert (out / "handler.py").read_text().startswith("def handler")
    assert (out / "matrx_ship" / "agent_client.py").is_file()
    assert not list(out.rglob("__pycache__")) and not list(out.rglob("*.pyc"))
    assert list(out.glob("httpx-*.dist-info/METADATA")), "importlib.metadata must see httpx"
    assert not (out / "bin").exists() and not (out / "lib").exists()


def test_bundle_imports_without_any_site_packages(tmp_path: Path, shared_lib: Path) -> None:
    function_dir = make_function(tmp_path, "httpx\nwebsockets\n")
    out = tmp_path / "out"
    bundle(function_dir=function_dir, shared_lib=shared_lib, output_dir=out)
    # -S: no site-packages, -I: no environment or user dirs; only the stdlib and the bundle.
    code = "import sys; sys.path.insert(0, sys.argv[1]); import httpx, websockets.sync.client"
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_no_requirements_file_bundles_only_code(tmp_path: Path, shared_lib: Path) -> None:
    out = tmp_path / "out"
    assert bundle(function_dir=make_function(tmp_path), shared_lib=shared_lib, output_dir=out) == []
    assert sorted(p.name for p in out.iterdir()) == ["handler.py", "matrx_ship"]


def test_a_packaged_function_ships_with_its_sibling_common_package(
    tmp_path: Path, shared_lib: Path
) -> None:
    root = tmp_path / "lambdas"
    root.mkdir()
    (root / "__init__.py").write_text("")
    function_dir = make_function(root)
    (function_dir / "__init__.py").write_text("")
    (root / "common").mkdir()
    (root / "common" / "__init__.py").write_text("")
    (root / "common" / "alerts.py").write_text("SUBJECT = 'x'\n")
    (root / "other").mkdir()  # another function: not this one's to carry
    (root / "other" / "handler.py").write_text("")
    out = tmp_path / "out"
    bundle(function_dir=function_dir, shared_lib=shared_lib, output_dir=out)
    assert sorted(p.name for p in (out / "lambdas").iterdir()) == ["__init__.py", "common", "probe"]
    assert (out / "lambdas" / "common" / "alerts.py").read_text() == "SUBJECT = 'x'\n"


def test_what_the_runtime_and_layer_provide_is_not_vendored() -> None:
    names = {
        d.metadata["Name"].lower()
        for d in resolve([Requirement("aws-lambda-powertools"), Requirement("boto3")])
    }
    assert names == set()


def test_compiled_distributions_are_refused(tmp_path: Path, shared_lib: Path) -> None:
    function_dir = make_function(tmp_path, "greenlet\n")  # a C extension, no pure fallback
    with pytest.raises(BundlingError, match="compiled code"):
        bundle(function_dir=function_dir, shared_lib=shared_lib, output_dir=tmp_path / "out")


def test_optional_speedups_ship_without_their_extension(tmp_path: Path, shared_lib: Path) -> None:
    function_dir = make_function(tmp_path, "websockets\n")  # matrx_ship.client imports it
    out = tmp_path / "out"
    assert bundle(function_dir=function_dir, shared_lib=shared_lib, output_dir=out) == [
        "websockets"
    ]
    assert (out / "websockets" / "frames.py").is_file()
    assert (out / "websockets" / "utils.py").is_file(), "the pure-Python apply_mask"
    assert not list(out.rglob("*.so"))


def test_an_uninstalled_distribution_is_named(tmp_path: Path, shared_lib: Path) -> None:
    function_dir = make_function(tmp_path, "matrx-no-such-distribution\n")
    with pytest.raises(BundlingError, match="matrx-no-such-distribution is not installed"):
        bundle(function_dir=function_dir, shared_lib=shared_lib, output_dir=tmp_path / "out")


def test_a_version_outside_the_requirement_is_refused(tmp_path: Path, shared_lib: Path) -> None:
    function_dir = make_function(tmp_path, "httpx<0.1\n")
    with pytest.raises(BundlingError, match=re.escape("httpx<0.1 is required")):
        bundle(function_dir=function_dir, shared_lib=shared_lib, output_dir=tmp_path / "out")


def test_pip_options_are_not_requirements(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text("--index-url https://example.invalid/simple\n")
    with pytest.raises(BundlingError, match="not a distribution name"):
        read_requirements(path)


def test_a_function_without_handler_is_refused(tmp_path: Path, shared_lib: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundlingError, match=re.escape("handler.py not found")):
        bundle(function_dir=tmp_path / "empty", shared_lib=shared_lib, output_dir=tmp_path / "o")
