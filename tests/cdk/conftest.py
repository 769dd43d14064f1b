"""Setup for the deploy tier's tests."""

import os

# jsii prints an end-of-life banner for Node 20 on every start; the CDK runs fine on it.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
