"""A service's backups: take, verify, restore."""

from dashboard.lib.views import backups

backups.render()
