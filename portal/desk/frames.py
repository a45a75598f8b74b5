"""A desk stream's text/event-stream body: standing alarms, replayed events, then live ones with heartbeats."""

import queue
import time

from portal.desk.feed import ALARM, FLUSH_SECONDS, encode

HEARTBEAT_SECONDS = 15
# Then the browser reconnects (Last-Event-ID, nothing lost) and is authorised again, so a logged-out
# guard stops receiving.
MAX_STREAM_SECONDS = 60


class _Frames:
    """A stream's body that unsubscribes and calls on_close when it ends, is closed, or is closed unstarted.

    A generator closed before its first step never runs its finally block, so a client that went away
    before the first write would otherwise keep its subscription (and its stream slot) for ever.
    """

    def __init__(self, gen, hub, client, on_close):
        self.gen, self.hub, self.client, self.on_close = gen, hub, client, on_close

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self.gen)
        except BaseException:
            self.close()
            raise

    def close(self):
        """End the stream: stop the generator, unsubscribe, release what the caller holds."""
        try:
            self.gen.close()
        finally:
            self.hub.unsubscribe(self.client)
            if self.on_close is not None:
                self.on_close()


def _frame(entry):
    if entry[0] == ALARM:
        return f"event: alarm\ndata: {entry[1]}\n\n"
    return f"id: {entry[0]}\ndata: {entry[1]}\n\n"


def sse_frames(hub, client, replay, replay_complete=True, max_seconds=MAX_STREAM_SECONDS, on_close=None, alarms=()):
    """The text/event-stream body: standing alarms, replayed events, then live ones, with heartbeats; ends after max_seconds."""

    def gen():
        yield "retry: 1000\n\n"
        for item in alarms:
            yield _frame((ALARM, encode(item)))
        replayed = set()
        for item in replay:
            replayed.add(item["id"])
            yield f"id: {item['id']}\ndata: {encode(item)}\n\n"
        if not replay_complete:
            return  # more to replay: the client reconnects from the last id it got
        deadline = time.monotonic() + max_seconds
        flushed = 0.0
        while time.monotonic() < deadline and not client.overflow:
            try:
                batch = [client.q.get(timeout=min(HEARTBEAT_SECONDS, max(0.01, deadline - time.monotonic())))]
            except queue.Empty:
                yield ": ping\n\n"
                continue
            # Whatever queues up within FLUSH_SECONDS of the last write goes out in the next one: a few
            # wake-ups and writes a second per stream, not one per event, which the gate's threads would wait on.
            time.sleep(max(0.0, min(flushed + FLUSH_SECONDS, deadline) - time.monotonic()))
            flushed = time.monotonic()
            while len(batch) < 1000:
                try:
                    batch.append(client.q.get_nowait())
                except queue.Empty:
                    break
            frames = "".join(_frame(e) for e in batch if e is not None and e[0] not in replayed)
            if frames:
                yield frames

    return _Frames(gen(), hub, client, on_close)
