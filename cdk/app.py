"""Entry point: `npx cdk synth` runs `python3 -m cdk.app` from the repository root.

Run it with the project's Python first on PATH (`PATH=.venv/bin:$PATH npx cdk synth`).
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from cdk.config import DeployTierConfig
from cdk.stack import LAMBDAS_ROOT, DeployTierStack

STACK_NAME = "MatrxShipDeployTier"


def build_deploy_tier(app: cdk.App, *, lambdas_root: Path | None = None) -> DeployTierStack:
    """The stack as deployed, with cdk-nag's AWS Solutions checks on every resource.

    `lambdas_root` defaults to context `lambdas_root`, then to the repository's `lambdas/`.
    """
    root = lambdas_root or Path(app.node.try_get_context("lambdas_root") or LAMBDAS_ROOT)
    stack = DeployTierStack(
        app,
        STACK_NAME,
        config=DeployTierConfig.from_context(app.node),
        lambdas_root=root,
        description="matrx-ship deploy tier: backups, probes, alarms (cdk/ in the repository)",
    )
    cdk.Tags.of(stack).add("project", "matrx-ship")
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return stack


def main() -> None:
    app = cdk.App()
    build_deploy_tier(app)
    app.synth()


if __name__ == "__main__":
    main()
