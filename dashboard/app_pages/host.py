"""The host: engine, disks, memory, load."""

from dashboard.lib.views import host

host.render()
