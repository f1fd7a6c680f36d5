"""Sub-commands of the ``bcastsim`` CLI: one module each, exposing ``HELP``, ``configure`` and ``run``."""
