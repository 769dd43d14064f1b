"""A service's releases: history, pending changes, build, deploy, rollback."""

from dashboard.lib.views import releases

releases.render()
