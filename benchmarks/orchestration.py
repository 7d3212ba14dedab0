"""Orchestration overhead on a warm local Ray.

Runs, through rayline's public API: a 50-step chain of no-op function steps (caching on), a
50-wide fan-out plus its gather, the chain again fully cached; and, in the same run, the same
chain as plain chained Ray tasks (the floor) and the fan-out as plain Ray tasks gathered by one
more (the fan-out's floor). Every state change is recorded in the metadata DB
(SQLite in a temporary RAYLINE_HOME unless RAYLINE_DB_URL is set), and every step gets its
MLflow run. Those runs are written by tracking's worker process right behind the steps: each
timed run ends when the execution has, and before the next one starts the benchmark waits,
untimed, until MLflow has caught up (``wait(tracked=True)``); ``tracking_catch_up_s`` is the
longest of those waits.

    .venv/bin/python benchmarks/orchestration.py [--steps 50]

Last line: {"chain_ms_per_step": …, "fanout_ms_per_step": …, "cached_rerun_s": …,
"ray_floor_ms_per_step": …, "ray_fanout_floor_ms_per_step": …, "chain_ratio": …,
"fanout_ratio": …, "tracking_catch_up_s": …}
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    n = args.steps
    os.environ.setdefault("RAYLINE_HOME", tempfile.mkdtemp(prefix="rayline-bench-"))

    import ray

    from rayline import CacheConfig, Pipeline, step
    from rayline.ray_connection import ensure_ray

    ensure_ray()
    cache = CacheConfig(enable_caching=True, expire_after="PT1H")

    @step(cache_config=cache)
    def link(previous):
        return previous + 1

    @step
    def leaf(i):
        return i

    @step
    def gather(values):
        return sum(values)

    @ray.remote
    def plain(previous):
        return previous + 1

    # Warm up the workers and the DB (the benchmark is about steady-state overhead).
    ray.get([plain.remote(0) for _ in range(8)])
    Pipeline("warmup", steps=[gather([leaf(i) for i in range(4)])]).start().wait(tracked=True)
    catch_up: list[float] = []

    def tracked(execution) -> None:
        t = time.perf_counter()
        execution.wait(tracked=True)
        catch_up.append(time.perf_counter() - t)

    chain = 0
    for _ in range(n):
        chain = link(chain)
    chain_pipeline = Pipeline("bench-chain", steps=[chain])
    chain_pipeline.upsert()
    t = time.perf_counter()
    execution = chain_pipeline.start()
    execution.wait()
    chain_s = time.perf_counter() - t
    assert execution.result(chain.name) == n
    tracked(execution)

    fan = gather([leaf(i) for i in range(n)])
    fan_pipeline = Pipeline("bench-fanout", steps=[fan])
    fan_pipeline.upsert()
    t = time.perf_counter()
    execution = fan_pipeline.start()
    execution.wait()
    fanout_s = time.perf_counter() - t
    assert execution.result(fan.name) == sum(range(n))
    tracked(execution)

    t = time.perf_counter()
    execution = chain_pipeline.start()
    execution.wait()
    cached_s = time.perf_counter() - t
    tracked(execution)
    steps = execution.list_steps()
    assert all(s.cached_from for s in steps), "the re-run was not fully cached"
    events = len(execution.events())

    t = time.perf_counter()
    value = 0
    for _ in range(n):
        value = ray.get(plain.remote(value))
    floor_s = time.perf_counter() - t

    # The fan-out's floor: the same n independent tasks and one task gathering their results.
    @ray.remote
    def plain_gather(*values):
        return sum(values)

    t = time.perf_counter()
    total = ray.get(plain_gather.remote(*[plain.remote(i - 1) for i in range(n)]))
    fanout_floor_s = time.perf_counter() - t
    assert total == sum(range(n))

    print(
        f"chain: {n} steps in {chain_s:.3f} s; fan-out: {n}+1 steps in {fanout_s:.3f} s; "
        f"cached re-run: {cached_s:.3f} s ({events} events recorded); "
        f"plain Ray chain: {floor_s:.3f} s; plain Ray fan-out: {fanout_floor_s:.3f} s"
    )
    print(
        json.dumps(
            {
                "chain_ms_per_step": round(chain_s / n * 1000, 2),
                "fanout_ms_per_step": round(fanout_s / (n + 1) * 1000, 2),
                "cached_rerun_s": round(cached_s, 3),
                "ray_floor_ms_per_step": round(floor_s / n * 1000, 2),
                "ray_fanout_floor_ms_per_step": round(fanout_floor_s / (n + 1) * 1000, 2),
                "chain_ratio": round(chain_s / floor_s, 2),
                "fanout_ratio": round(fanout_s / fanout_floor_s, 2),
                "tracking_catch_up_s": round(max(catch_up), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
