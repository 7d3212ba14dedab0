"""The client of a rayline server (``RAYLINE_SERVER_URL``): the Python API and the CLI go through
its REST API when the variable is set."""
