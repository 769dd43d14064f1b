"""Images and reclaimable space."""

from dashboard.lib.views import images

images.render()
