"""The deploy tier in AWS: the off-box safety net that watches the Server Manager.

One stack (`stack.DeployTierStack`) composes one construct per concern: backup storage,
secrets, the scheduled functions, the alarm topic, monitoring, and the agent's identity.
`app.py` is the entry point (`python3 -m cdk.app`, run by `npx cdk` through `cdk.json`).
"""
