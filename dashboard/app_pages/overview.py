"""One service now: state, resources, problems, events."""

from dashboard.lib.views import overview

overview.render()
