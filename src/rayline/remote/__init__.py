"""rayline.remote: the Python API and the CLI driving a rayline server over its REST API.

With ``RAYLINE_SERVER_URL`` set (and ``RAYLINE_TOKEN``), ``Pipeline.upsert()`` / ``.start()``,
``Execution`` and the CLI commands built on them call the server instead of the local metadata
DB and Ray; without it everything stays embedded. The facades (``rayline.pipelines``,
``rayline.executions``) keep one seam per public method and delegate here.

- ``client``: the one HTTP client (base URL, bearer token, ``X-Rayline-Client``, timeouts) and
  the mapping of problem details back to rayline's errors.
- ``records``: the engine's records from the server's JSON (unknown keys ignored).
- ``codes``: the content-addressed code snapshots a definition names, uploaded through the
  server (clients need no object-store credentials).
- ``pipelines``, ``executions``: the REST calls (the domains' own remote backends live in
  their packages, e.g. ``rayline.registry.remote``).
"""
