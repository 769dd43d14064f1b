"""The one step type of every plan the agent makes, and the one way executors run it.

A plan is a pure function returning ``list[Step]``: tested by equality, the no-op plan
being ``[]``. An executor maps each action to a handler taking the step's target and
runs them in order with ``dispatch``; an action without a handler is a programming
error, raised before anything is done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    action: str
    target: str  # what the action applies to: a container, a database, a volume, a part
    detail: str = ""  # what a person reading the plan needs: from which backup, which release


Handler = Callable[[str], object]


def check_handled(steps: Iterable[Step], handlers: Mapping[str, Handler]) -> None:
    """Refuse a plan with an action the executor has no handler for, before it starts."""
    missing = sorted({s.action for s in steps} - set(handlers))
    if missing:
        raise ValueError(f"no handler for step action(s): {', '.join(missing)}")


def dispatch(step: Step, handlers: Mapping[str, Handler]) -> object:
    """Run one step: the handler of its action, given its target."""
    return handlers[step.action](step.target)
