"""Sign in with an agent token."""

from dashboard.lib.views import sign_in

sign_in.render()
