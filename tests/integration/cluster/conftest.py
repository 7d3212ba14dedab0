"""One real two-node Ray cluster (``rayline.local_cluster``) for every test in this folder: the
worker node runs in its own mount namespace and cannot see the head's files. Starting and
stopping one takes ~15 s each, so the modules share it; each keeps its own databases, Redis
prefix and ``RAYLINE_HOME`` (a folder of its own under the cluster's root, the head's disk).

The cluster has Ray's dashboard (``serve deploy`` needs it) and its nodes are prepared for one
Serve port (``TwoNodes.serve_port``), which whoever starts Serve on it must use."""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class TwoNodes:
    cluster: object  # rayline.local_cluster.LocalCluster
    serve_port: int


@pytest.fixture(scope="package")
def two_nodes(port_blocks):
    from rayline.local_cluster import LocalCluster

    # A port block of its own (the session's local Ray has its Serve on another): the nodes'
    # environment carries Serve's fast-path ports derived from it.
    port = port_blocks()
    with LocalCluster.start(worker=True, dashboard=True, serve_port=port) as cluster:
        yield TwoNodes(cluster=cluster, serve_port=port)
