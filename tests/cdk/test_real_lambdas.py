"""The real functions as Lambda runs them: bundled, importable with only what the runtime and
the Powertools layer provide, and configured by the environment the stack gives them."""

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from cdk.app import build_deploy_tier
from cdk.bundling import LAYER_PROVIDED, RUNTIME_PROVIDED, bundle
from lambdas.backup_check.settings import BackupCheckSettings
from lambdas.health_probe.settings import ProbeSettings
from tests.cdk.test_stack import CONTEXT

pytestmark = pytest.mark.engine  # every test here runs jsii (node), or synths

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ["health_probe", "backup_check"]

IMPORT_CHECK = """
import sys
sys.path[:0] = sys.argv[1:3]
import handler
from lambdas.common.statestore import Pg8000Store
engine = Pg8000Store("postgresql://probe@127.0.0.1:1/state?sslmode=require").engine
print(handler.SERVICE, engine.dialect.driver)
"""


def _top_levels(dist: metadata.Distribution) -> set[str]:
    names = set()
    for file in dist.files or []:
        top = Path(str(file)).parts[0]
        if not top.endswith((".dist-info", ".data", ".pth")) and top not in ("..", "bin"):
            names.add(top)
    return names


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the runtime and the Powertools layer put on sys.path (typing-extensions with it)."""
    root = tmp_path_factory.mktemp("layer")
    for name in RUNTIME_PROVIDED | LAYER_PROVIDED | {"typing-extensions"}:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        site = Path(str(dist.locate_file("")))
        for top in _top_levels(dist):
            if (site / top).exists() and not (root / top).exists():
                (root / top).symlink_to(site / top)
    return root


@pytest.mark.parametrize("name", FUNCTIONS)
def test_the_real_handler_imports_with_only_the_runtime_and_the_layer(
    name: str, tmp_path: Path, layer: Path
) -> None:
    out = tmp_path / "bundle"
    bundle(
        function_dir=REPO_ROOT / "lambdas" / name,
        shared_lib=REPO_ROOT / "matrx_ship",
        output_dir=out,
    )
    assert (out / "lambdas" / name / "handler.py").is_file()
    assert (out / "lambdas" / "common" / "__init__.py").is_file(), "the functions' shared code"
    assert not list(out.rglob("*.so")), "compiled code for this machine must not ship"
    env = {"PATH": os.environ.get("PATH", ""), "POWERTOOLS_METRICS_NAMESPACE": "MatrxShip"}
    # -S: no site-packages, -I: no user site or PYTHON* variables: the bundle and the layer only.
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", IMPORT_CHECK, str(out), str(layer)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == [name, "pg8000"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app = cdk.App(context=CONTEXT, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    return dict(Template.from_stack(build_deploy_tier(app)).to_json())  # the real lambdas/


def function_env(template: dict[str, Any], service: str) -> dict[str, str]:
    """A function's environment, with CloudFormation references as placeholder ARNs."""
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        env = resource["Properties"]["Environment"]["Variables"]
        if env["POWERTOOLS_SERVICE_NAME"] == service:
            return {
                k: v if isinstance(v, str) else f"arn:aws:placeholder:{k}" for k, v in env.items()
            }
    raise AssertionError(f"no function for {service}")


def test_the_probe_reads_its_settings_from_the_stack_environment(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in function_env(template, "health_probe").items():
        monkeypatch.setenv(key, value)
    settings = ProbeSettings()  # type: ignore[call-arg]
    assert settings.agent_url == "https://agent.example.com"
    assert settings.manager_console_url == "https://manager.example.com"
    assert settings.breakglass_cert_sha256 == "ab" * 32
    assert settings.agent_token_secret_arn.endswith("MATRX_AGENT_TOKEN_SECRET_ARN")
    assert settings.database_url_secret_arn.endswith("MATRX_DATABASE_URL_SECRET_ARN")
    assert (settings.host, settings.budget_s) == ("edge7", 55.0)


def test_the_backup_check_reads_its_settings_from_the_stack_environment(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in function_env(template, "backup_check").items():
        monkeypatch.setenv(key, value)
    settings = BackupCheckSettings()  # type: ignore[call-arg]
    assert settings.s3_bucket.endswith("MATRX_S3_BUCKET")
    assert settings.prefix == "edge7/backups/"  # inside the prefix the function may read
