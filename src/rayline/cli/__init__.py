"""The ``rayline`` command line: thin commands over the Python API, rendered with rich."""
