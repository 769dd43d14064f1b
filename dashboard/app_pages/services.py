"""All services at a glance."""

from dashboard.lib.views import services

services.render()
