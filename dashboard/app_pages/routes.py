"""Every route: specs, Traefik, a live request."""

from dashboard.lib.views import routes

routes.render()
