"""Making the host match the store: a pure plan (``plan``) and its executor."""
