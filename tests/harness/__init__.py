"""The test harness: real engines, a real agent, the test app, and the run's cleanup.

tests/ fixtures and bench/ both build on it, so there is one way to start an agent
(``start_agent``) and one list of what a run may leave behind (``leftovers``).

- ``engines``: dockerd, a private PostgreSQL cluster, moto, the cached test images, ``wait_for``.
- ``agent``: ``RunningAgent`` (uvicorn in a thread), ``agent_settings``, ``start_agent``.
- ``apps``: ``TEST_PREFIX``, ``app_spec``/``source_spec`` and ``GitApp`` for the busybox app.
- ``leftovers``: the session sweep of images, containers, volumes, networks, temp folders.
"""

from tests.harness import engines
from tests.harness.agent import RunningAgent, agent_settings, serving, start_agent
from tests.harness.apps import TEST_PREFIX, GitApp, app_spec, service_name, source_spec
from tests.harness.engines import free_port, wait_for

__all__ = [
    "TEST_PREFIX",
    "GitApp",
    "RunningAgent",
    "agent_settings",
    "app_spec",
    "engines",
    "free_port",
    "service_name",
    "serving",
    "source_spec",
    "start_agent",
    "wait_for",
]
