"""One module per page: ``render()`` draws it from the current console context."""
