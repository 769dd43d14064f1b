"""What exists only on this host, and the action that protects each item."""

from dashboard.lib.views import local_state

local_state.render()
