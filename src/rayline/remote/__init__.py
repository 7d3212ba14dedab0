"""rayline.remote: the Python API and the CLI driving a rayline server over its REST API.

With ``RAYLINE_SERVER_URL`` set (and ``RAYLINE_TOKEN``), each domain's facade works through a
remote backend instead of the embedded one: ``client.server_client(db_url)`` is the one rule
that says which (a client when a server URL is set, no explicit ``db_url`` was given and the
caller is not the server itself, ``rayline.config.embedded()``). This layer sits directly on
the engine; other domains keep their remote backends in their own package
(``rayline/lineage/remote.py``, ``rayline/tracking/remote.py``, ...) on this client.

- ``client``: the one HTTP client (base URL, bearer token, ``X-Rayline-Client``, timeouts,
  streams) and the mapping of problem details back to rayline's errors; ``server_client``.
- ``records``: the engine's records from the server's JSON (unknown keys ignored).
- ``codes``: the content-addressed code snapshots a definition names, uploaded through the
  server (clients need no object-store credentials).
- ``pipelines``, ``executions``: the engine's remote backends (``RemotePipelines``,
  ``RemoteExecutions``).
"""
