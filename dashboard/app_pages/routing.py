"""A service's routes: specs, Traefik, a live request."""

from dashboard.lib.views import routing

routing.render()
