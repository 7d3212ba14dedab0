"""A pipeline whose first step waits for a file (the gate) before it ends: tests stop it while
it runs, then open the gate and retry it, with no timing assumption."""

from __future__ import annotations

from pathlib import Path

from rayline import Pipeline, step

#: What the waiting step prints before and after the gate opens (literals in the step: its
#: code travels to Ray by value).
WAITING, THROUGH = "waiting for the gate", "through the gate"


def gated_pipeline(name: str, gate: Path) -> Pipeline:
    """``wait`` (prints ``WAITING``, returns 1 once ``gate`` exists) then ``after`` (adds 1)."""

    @step(name="wait")
    def wait():
        import time

        print("waiting for the gate", flush=True)
        deadline = time.monotonic() + 300  # a forgotten gate fails the step, not the session
        while not gate.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{gate} never appeared")
            time.sleep(0.05)
        print("through the gate", flush=True)
        return 1

    @step(name="after")
    def after(x):
        return x + 1

    return Pipeline(name, steps=[after(wait())])
