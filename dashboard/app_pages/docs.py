"""The docs and runbooks."""

from dashboard.lib.views import docs

docs.render()
