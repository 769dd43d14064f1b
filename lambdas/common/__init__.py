"""What both deploy-tier functions share, bundled into each one's asset.

`ladder` (target states and the escalation ladder, pure), `records` (probe results and
target rows), `statestore` (the state store over pg8000, audit lines), `alerts` (SNS),
`settings` (the settings base) and `reach` (the agent on its public and break-glass paths).
"""
