"""Start, stop, restart, force-recreate a service."""

from dashboard.lib.views import actions

actions.render()
