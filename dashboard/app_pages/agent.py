"""The agent: readiness and durability."""

from dashboard.lib.views import agent

agent.render()
