"""The agent is gone: last known state and the recovery runbook."""

from dashboard.lib.views import recovery

recovery.render()
