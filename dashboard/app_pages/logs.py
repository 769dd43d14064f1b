"""A service's logs: live tail and search."""

from dashboard.lib.views import logs

logs.render()
