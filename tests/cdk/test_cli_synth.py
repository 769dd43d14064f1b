"""`cdk synth` works offline from the repo root with the CLI the setup installs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine  # the CDK CLI synthesizes through jsii (node)

ROOT = Path(__file__).resolve().parents[2]


def test_cdk_synth_runs_offline_with_the_project_cli(tmp_path: Path) -> None:
    cli = ROOT / "node_modules" / ".bin" / "cdk"
    assert cli.exists(), "the CDK CLI is installed by scripts/node-env.sh (npm ci)"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_VERSION_CHECK": "1",
    }
    out = tmp_path / "cdk.out"
    r = subprocess.run(
        [
            str(cli),
            "synth",
            "--quiet",
            "--no-notices",
            "-o",
            str(out),
            "-c",
            "agent_url=https://agent.example.com",
            "-c",
            "host=vps1",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    template = json.loads((out / "MatrxShipDeployTier.template.json").read_text())
    kinds = {res["Type"] for res in template["Resources"].values()}
    assert {
        "AWS::S3::Bucket",
        "AWS::Lambda::Function",
        "AWS::Events::Rule",
        "AWS::SNS::Topic",
        "AWS::CloudWatch::Alarm",
    } <= kinds
    bundles = [p for p in out.iterdir() if p.name.startswith("asset.") and p.is_dir()]
    handlers = {b.name: (b / "handler.py").exists() for b in bundles}
    assert len(bundles) >= 2 and all(handlers.values()), handlers
    common = {b.name: (b / "lambdas" / "common" / "statestore.py").is_file() for b in bundles}
    assert all(common.values()), common
