"""Studio on the reference workflow's results (``make studio``).

The first time, runs the demo keeping everything it made (``demo.py --keep-endpoint``: the
pipeline and its executions, the feature group, the model versions, the endpoint serving on a
long-lived local Ray that ``rayline up`` started); later times find that state, make sure that
Ray is up with the endpoint on it (``rayline up``) and go on. Then serves the rayline server
(REST API and Studio) on the same embedded state, on loopback, and prints the address to open.
Stop it with Ctrl-C; ``rayline down`` stops the local Ray.

Options: ``--port`` (default 8080), ``--rerun`` (run the demo again even if its results exist;
its steps then hit the cache).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pipeline import MODEL_PACKAGE_GROUP, PIPELINE_NAME  # noqa: E402


def demo_results_exist() -> bool:
    """Whether a kept demo left its pipeline with a succeeded execution and a model version."""
    from rayline.engine.repository import open_repository
    from rayline.errors import NotFoundError
    from rayline.registry import ModelRegistry

    succeeded = open_repository().page_executions(
        pipeline_name=PIPELINE_NAME, status="Succeeded", limit=1
    )
    try:
        versions = ModelRegistry().list_versions(MODEL_PACKAGE_GROUP)
    except NotFoundError:
        return False
    return bool(succeeded) and bool(versions)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080, help="the server's port (8080)")
    parser.add_argument("--rerun", action="store_true", help="run the demo again first")
    args = parser.parse_args()
    # The server reaches the endpoint on the long-lived local Ray the demo started.
    rayline = Path(sys.executable).with_name("rayline")

    if args.rerun or not demo_results_exist():
        print("Running the demo, keeping its results for Studio (make demo --keep-endpoint) ...")
        done = subprocess.run([sys.executable, str(HERE / "demo.py"), "--keep-endpoint"])
        if done.returncode != 0:
            print("the demo failed; Studio was not started", file=sys.stderr)
            return done.returncode
    else:
        print("Found the demo's results (make studio STUDIO_ARGS=--rerun runs it again).")
        # The long-lived local Ray (idempotent), with the kept endpoint redeployed on it
        # should it have been stopped (`rayline down`) since.
        subprocess.run([str(rayline), "up"], check=False)
    return subprocess.run([str(rayline), "server", "--port", str(args.port)]).returncode


if __name__ == "__main__":
    sys.exit(main())
