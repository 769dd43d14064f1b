"""A service's environment: masked values, edit, import, reveal, export."""

from dashboard.lib.views import environment

environment.render()
