"""Streamed responses of executions: the event log as Server-Sent Events (one execution's, or
every execution's status changes), and a step's log as it grows.

Both poll the metadata DB (and the artifact store, for a live log) from a cursor, each poll in a
worker thread (``anyio.to_thread``) so the event loop keeps serving other requests. Polling is
what every reader of the event log does (the CLI, webhooks): the DB is the one source of truth,
whichever process owns the execution.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi.encoders import jsonable_encoder

from rayline.engine import api as engine
from rayline.engine.records import EventKind

#: How often a stream looks for new events: a status change reaches the client within this
#: (plus a DB read), well inside a second.
EVENT_POLL_S = 0.1
#: How often the stream of every execution's status changes looks for new ones (what an open
#: list of executions holds: a list is glanced at, not followed step by step).
STATUS_POLL_S = 0.5
#: How long one such stream lasts before it ends and the browser reconnects, resuming after the
#: Last-Event-ID it sends: an open list must not hold up a graceful shutdown of the server,
#: which waits for every response to end.
STATUS_STREAM_S = 30.0
#: How soon (ms) a browser reconnects to a stream that ended (the ``retry:`` field).
RECONNECT_MS = 500
#: How often a followed log is read again (the live log is copied to the store as it grows).
LOG_POLL_S = 0.25
#: A comment line this often keeps proxies and clients from closing an idle stream.
KEEPALIVE_S = 15.0

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(event: str, data: Any, *, event_id: int | None = None) -> str:
    """One Server-Sent Event (``data`` as one line of JSON)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(jsonable_encoder(data))}\n\n"


async def event_stream(execution_id: str, *, after_id: int) -> AsyncIterator[str]:
    """The execution's events after ``after_id``, as they are recorded, then ``event: end``
    (with the execution's record) once it has ended: its status is final and every event up to
    its end was sent (a retried execution goes on)."""
    cursor = after_id
    last_sent = time.monotonic()
    while True:
        # The record first: its final status and its end event commit together, so when the
        # status read here is final, the events read next include the end.
        record = await anyio.to_thread.run_sync(engine.find_execution, execution_id)
        events = await anyio.to_thread.run_sync(
            functools.partial(engine.events, execution_id, after_id=cursor)
        )
        for event in events:
            yield sse(event.kind.value, event, event_id=event.id)
            cursor = event.id
        if events:
            last_sent = time.monotonic()
        if record is None:  # deleted while followed: nothing more will come
            yield sse("end", None)
            return
        if record.status.finished and (not events or events[-1].kind == EventKind.EXECUTION_ENDED):
            yield sse("end", record)
            return
        if time.monotonic() - last_sent >= KEEPALIVE_S:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        await anyio.sleep(EVENT_POLL_S)


async def status_stream(*, after_id: int, lasts_s: float | None = None) -> AsyncIterator[str]:
    """Every execution's status changes after event ``after_id`` (a new execution's first
    ``ExecutionStatusChanged`` included, each sent with its event id), as they are recorded,
    for ``lasts_s`` (default ``STATUS_STREAM_S``); then it ends, and the browser reconnects
    after ``RECONNECT_MS``."""
    lasts_s = STATUS_STREAM_S if lasts_s is None else lasts_s
    kinds = (EventKind.EXECUTION_STATUS, EventKind.EXECUTION_ENDED)
    cursor = after_id
    yield f"retry: {RECONNECT_MS}\n\n"
    last_sent = start = time.monotonic()
    while time.monotonic() - start < lasts_s:
        events = await anyio.to_thread.run_sync(
            functools.partial(engine.events_after, cursor, kinds=kinds)
        )
        for event in events:
            yield sse(event.kind.value, event, event_id=event.id)
            cursor = event.id
        if events:
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent >= KEEPALIVE_S:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        await anyio.sleep(STATUS_POLL_S)


async def log_stream(execution: Any, step_name: str) -> AsyncIterator[str]:
    """What the step printed, then what it prints as it runs, until it ends (and, for a step
    that has not started, from when it starts; nothing if the execution ends first)."""
    sent = 0
    while True:
        run, text = await anyio.to_thread.run_sync(_read_log, execution, step_name)
        if len(text) > sent:
            yield text[sent:]
            sent = len(text)
        if run is not None and run.status.finished:
            return
        if run is None:
            record = await anyio.to_thread.run_sync(execution.describe)
            if record.status.finished:
                return
        await anyio.sleep(LOG_POLL_S)


def _read_log(execution: Any, step_name: str) -> tuple[Any, str]:
    from rayline.errors import NotFoundError

    try:
        run = execution.step(step_name)
    except NotFoundError:  # not started yet
        return None, ""
    # Execution.logs: the stored log once the step ended, the live log while it runs.
    return run, execution.logs(step_name)
