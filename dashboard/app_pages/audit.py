"""The audit log, filtered and paged."""

from dashboard.lib.views import audit

audit.render()
