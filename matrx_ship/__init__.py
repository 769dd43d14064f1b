"""matrx-ship: the shared library of the agent, the Lambdas and the console."""

__version__ = "0.1.0"
