"""The health probe: agent, manager console and public routes, a few times a minute."""
