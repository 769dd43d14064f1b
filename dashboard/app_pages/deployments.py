"""Deployments across services."""

from dashboard.lib.views import deployments

deployments.render()
