"""The agent's API contract: one pydantic model per response, shared by the agent (its
``response_model``s), the client (what its typed methods return) and the console.

One module per area: ``health``, ``services`` (status, changes), ``releases`` (releases,
deployments, pending changes, routes), ``jobs``, ``backups`` (and their parts),
``databases`` (status, findings, browsing, queries), ``audit``, ``tokens``, ``env``,
``logs`` and ``host``. ``base`` holds what they share: the ``Reply`` base, the error
body and the error answers every route declares.

Fields are what the handlers return; a key a handler sends only sometimes is optional
here, and the routes leave unset keys out (``response_model_exclude_unset``), so the
JSON is the same as before the models. ``extra="allow"`` only where a payload is open by
design (a verification's findings, whose keys depend on the part); JSON columns such as
a job's params and result stay plain objects.
"""
