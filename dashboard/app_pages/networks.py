"""Docker networks."""

from dashboard.lib.views import networks

networks.render()
