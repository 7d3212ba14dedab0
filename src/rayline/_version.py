"""rayline's version, in a leaf module: the server, the client and webhooks read it without
importing the package's public API, and pyproject.toml reads it from here when building."""

__version__ = "0.1.0"
