"""The serving tests' fixtures (Serve's port: ``serve_port`` in tests/conftest.py; models come
from tests/integration/conftest.py)."""
