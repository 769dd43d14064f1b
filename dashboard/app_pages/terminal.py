"""A terminal in a service's container."""

from dashboard.lib.views import terminal

terminal.render()
