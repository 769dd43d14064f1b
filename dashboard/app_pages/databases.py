"""The services' databases: audit, repair, schemas, read-only queries."""

from dashboard.lib.views import databases

databases.render()
