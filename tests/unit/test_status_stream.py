"""The stream of every execution's status changes (what keeps Studio's executions list live),
over a real repository on SQLite: it tells the browser how soon to reconnect, sends only the
status changes after its cursor, each with its event id (what a reconnecting browser resumes
after), and ends after its bound instead of holding a server's shutdown."""

from __future__ import annotations

import time

import anyio


def test_status_changes_after_the_cursor_then_the_end(tmp_path, monkeypatch):
    from rayline.engine.records import EventKind, ExecutionStatus
    from rayline.engine.repository import open_repository
    from rayline.server import streams

    url = f"sqlite:///{tmp_path / 'rayline.db'}"
    monkeypatch.setenv("RAYLINE_DB_URL", url)  # the stream reads the configured database
    repo = open_repository(url)
    assert repo.last_event_id() == 0
    repo.create_execution("before", "p", 1, {}, max_parallel_steps=None)
    cursor = repo.last_event_id()
    assert cursor > 0
    repo.create_execution("after", "p", 1, {}, max_parallel_steps=None)
    repo.add_event("after", EventKind.ATTEMPT_FAILED, step_name="s", detail="not a status")
    ended = repo.set_execution_status("after", ExecutionStatus.SUCCEEDED)
    assert ended is not None and repo.last_event_id() == ended.id

    async def read() -> list[str]:
        return [chunk async for chunk in streams.status_stream(after_id=cursor, lasts_s=0.3)]

    began = time.monotonic()
    chunks = anyio.run(read)
    assert time.monotonic() - began < 5
    assert chunks[0] == f"retry: {streams.RECONNECT_MS}\n\n"
    heads = [chunk.split("\ndata:")[0] for chunk in chunks[1:]]
    assert heads == [
        f"id: {cursor + 1}\nevent: ExecutionStatusChanged",
        f"id: {ended.id}\nevent: ExecutionEnded",
    ]
    assert '"execution_id": "after"' in chunks[2] and '"status": "Succeeded"' in chunks[2]
