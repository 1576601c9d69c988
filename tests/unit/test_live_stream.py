"""GET /stream without a broker or services (api_gateway/live.py): the
server-sent-events framing, the catch-up from Last-Event-ID merged with
live items (no gap, no repeat), token expiry, heartbeats, and the
process's hub (its cap, whom it wakes). End to end, through two gateway
processes and the broker: tests/e2e/test_communication_graph.py."""
import json

import pytest

from api_gateway import live
from services.common.errors import Unauthenticated


def parse(text):
    """SSE text as a list of events: dicts of their fields; comments as {"comment": ...}."""
    found = []
    for block in text.split("\n\n"):
        if not block:
            continue
        event = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "":
                event["comment"] = value
            else:
                event[name] = value
        found.append(event)
    return found


def item(activity_id, kind="message", **extra):
    body = {"id": 1, "content": "hello"} if kind == "message" else {"id": 1, "title": "t"}
    return {"id": activity_id, "kind": kind, kind: dict(body, **extra)}


class Store:
    """communication's activity rows, and activity_since over them."""

    def __init__(self, count=0):
        self.items = [item(i) for i in range(1, count + 1)]
        self.calls = []
        self.on_fetch = None  # called after each read: an item committed right after it

    def add(self, kind="message"):
        self.items.append(item(len(self.items) + 1, kind))
        return self.items[-1]

    def fetch(self, after, limit):
        self.calls.append((after, limit))
        rows = [i for i in self.items if i["id"] > after]
        page = {"items": rows[:limit], "last_id": rows[:limit][-1]["id"] if rows else after,
                "more": len(rows) > limit}
        if self.on_fetch:
            self.on_fetch()
        return page


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


class ScriptedWaiter:
    """A stream's wake-up whose waits run a script: each wait pops the next
    step, which may add items (and says whether it woke the stream), or
    lets the time pass."""

    def __init__(self, clock, steps):
        self.clock, self.steps, self.waits = clock, list(steps), []

    def wait(self, timeout):
        self.waits.append(timeout)
        if not self.steps:
            raise StopStream()
        step = self.steps.pop(0)
        woke = step()
        if not woke:
            self.clock.t += timeout
        return woke


class StopStream(Exception):
    pass


def run(stream, limit=1000):
    """The stream's text until it ends (or the script runs out)."""
    out = []
    try:
        for chunk in stream:
            out.append(chunk)
            if len(out) > limit:
                break
    except StopStream:
        pass
    return "".join(out)


def items_of(events):
    return [e for e in events if e.get("event") in ("message", "notification")]


# framing -----------------------------------------------------------------------

def test_an_item_is_one_event_with_its_activity_id_kind_and_json():
    text = live.frame({"id": 42, "kind": "message", "message": {"content": "two\nlines: and \"quotes\""}})
    assert text.endswith("\n\n") and text.count("\n\n") == 1
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "id: 42" and lines[1] == "event: message" and lines[2].startswith("data: ")
    assert len(lines) == 3  # the content's newline stays inside the JSON string
    assert json.loads(lines[2][len("data: "):]) == {"id": 42, "kind": "message",
                                                    "message": {"content": "two\nlines: and \"quotes\""}}
    assert live.frame(item(3, "notification")).split("\n")[1] == "event: notification"
    with pytest.raises(ValueError):
        live.frame({"id": 1, "kind": "other"})


def test_comments_and_control_events():
    assert live.comment("heart\nbeat") == ": heart beat\n\n"
    [event] = parse(live.control("reauthenticate", 17, "expired"))
    assert event["id"] == "17" and event["event"] == "reauthenticate"
    assert json.loads(event["data"]) == {"after": 17, "message": "expired"}


@pytest.mark.parametrize("value, expected", [(None, None), ("", None), (" 12 ", 12), ("0", 0)])
def test_positions(value, expected):
    assert live.parse_position(value) == expected


@pytest.mark.parametrize("value", ["-1", "x", "1.5", "1e3", "9" * 20])
def test_a_bad_position_is_refused(value):
    with pytest.raises(ValueError):
        live.parse_position(value)


# catch-up and live items ---------------------------------------------------------

def test_catch_up_from_last_event_id_in_pages_then_ready():
    store, clock = Store(250), Clock()
    waiter = ScriptedWaiter(clock, [])
    events = parse(run(live.events(store.fetch, waiter, 120, clock.t + 900, now=clock)))
    assert events[0] == {"retry": str(live.RETRY_MS)}
    assert [int(e["id"]) for e in items_of(events)] == list(range(121, 251))
    assert store.calls == [(120, 100), (220, 100)]
    ready = [e for e in events if e.get("event") == "ready"]
    assert len(ready) == 1 and ready[0]["id"] == "250"
    assert events.index(ready[0]) == len(events) - 1  # after the whole catch-up


def test_live_items_follow_the_catch_up_with_no_gap_and_no_repeat():
    store, clock = Store(5), Clock()

    def arrive(count):
        def step():
            for _ in range(count):
                store.add()
            return True  # the hub wakes the stream
        return step

    waiter = ScriptedWaiter(clock, [arrive(1), arrive(3), lambda: False, arrive(1)])
    events = parse(run(live.events(store.fetch, waiter, 2, clock.t + 900, now=clock)))
    assert [int(e["id"]) for e in items_of(events)] == list(range(3, 11))


def test_an_item_committed_during_a_read_is_read_next_not_lost():
    """The wake-up of an item committed just after a read (so not in it)
    comes while the stream reads; the wait that follows returns at once and
    the next read gets it."""
    store, clock = Store(3), Clock()
    waiter = live.Waiter("u1")
    added = []

    def committed_meanwhile():
        if not added:
            added.append(store.add())
            waiter.set()  # the hub, on activity_added
    store.on_fetch = committed_meanwhile
    stream = live.events(store.fetch, waiter, 0, clock.t + 900, heartbeat=15, now=clock)
    chunks = []
    for chunk in stream:
        chunks.append(chunk)
        if "id: 4\n" in chunk:
            break
    ids = [int(e["id"]) for e in items_of(parse("".join(chunks)))]
    assert ids == [1, 2, 3, 4]


def test_an_item_at_or_before_the_position_is_never_sent_again():
    class Overlapping(Store):
        def fetch(self, after, limit):  # a read that also answers rows the client has
            page = super().fetch(max(after - 2, 0), limit)
            return page
    store, clock = Overlapping(6), Clock()
    waiter = ScriptedWaiter(clock, [lambda: store.add() and True, lambda: store.add() and True])
    events = parse(run(live.events(store.fetch, waiter, 3, clock.t + 900, now=clock)))
    ids = [int(e["id"]) for e in items_of(events)]
    assert ids == [4, 5, 6, 7, 8] and len(ids) == len(set(ids))


def test_a_client_with_no_position_gets_only_what_comes_from_now():
    store, clock = Store(230), Clock()
    waiter = ScriptedWaiter(clock, [lambda: store.add("notification") and True])
    events = parse(run(live.events(store.fetch, waiter, None, clock.t + 900, now=clock)))
    ready = [e for e in events if e.get("event") == "ready"]
    assert ready[0]["id"] == "230"  # where to resume from, should it reconnect before anything comes
    assert [(int(e["id"]), e["event"]) for e in items_of(events)] == [(231, "notification")]


def test_heartbeat_comments_while_nothing_comes():
    store, clock = Store(0), Clock()
    waiter = ScriptedWaiter(clock, [lambda: False, lambda: False])
    events = parse(run(live.events(store.fetch, waiter, 0, clock.t + 900, heartbeat=15, now=clock)))
    assert [e for e in events if "comment" in e] == [{"comment": "heartbeat"}] * 2
    assert waiter.waits[:2] == [15, 15]


def test_the_stream_ends_with_reauthenticate_when_the_token_expires():
    store, clock = Store(2), Clock()
    waiter = ScriptedWaiter(clock, [lambda: False] * 10)
    events = parse(run(live.events(store.fetch, waiter, 0, clock.t + 20, heartbeat=15, now=clock)))
    assert waiter.waits == [15, 5]  # the last wait is cut to the expiry
    assert events[-1]["event"] == "reauthenticate" and events[-1]["id"] == "2"


def test_a_session_ended_meanwhile_ends_the_stream_with_reauthenticate():
    clock = Clock()

    def fetch(after, limit):
        raise Unauthenticated("the session has ended")
    events = parse(run(live.events(fetch, ScriptedWaiter(clock, []), 7, clock.t + 900, now=clock)))
    assert events[-1]["event"] == "reauthenticate" and json.loads(events[-1]["data"])["after"] == 7


def test_communication_down_is_retried_without_losing_the_position():
    store, clock = Store(4), Clock()
    failures = [RuntimeError("no answer")]

    def fetch(after, limit):
        if failures:
            raise failures.pop()
        return store.fetch(after, limit)
    waiter = ScriptedWaiter(clock, [lambda: False])
    events = parse(run(live.events(fetch, waiter, 1, clock.t + 900, now=clock)))
    assert {"comment": "communication is unavailable; retrying"} in events
    assert [int(e["id"]) for e in items_of(events)] == [2, 3, 4]
    assert waiter.waits[0] == live.BACKOFF


# the hub -------------------------------------------------------------------------

def test_the_hub_caps_streams_and_wakes_only_the_users_own():
    hub = live.Hub("pyamqp://x", max_streams=2, spawn=lambda run: None)
    a, b = hub.open("u1"), hub.open("u2")
    with pytest.raises(live.StreamsFull):
        hub.open("u3")
    hub.on_event({"event_type": "activity_added", "data": {"user_id": "u1", "activity_id": 3, "kind": "message"}})
    assert a.wait(0) is True and b.wait(0) is False
    assert a.wait(0) is False  # cleared by the wait that saw it
    hub.close(a)
    hub.close(a)  # twice is once
    assert hub.count == 1
    c = hub.open("u3")
    hub.on_event(b'{"data": {}}')  # no user: ignored
    hub.wake_all()
    assert b.wait(0) and c.wait(0)


def test_the_hub_starts_its_consumer_once():
    started = []
    hub = live.Hub("pyamqp://x", max_streams=5, spawn=started.append)
    hub.open("u1")
    hub.open("u1")
    assert started == [hub.run]
    assert hub.queue_name.startswith("gateway.live-")


def test_a_stream_gives_its_place_back_when_closed_even_unstarted():
    hub = live.Hub("pyamqp://x", max_streams=1, spawn=lambda run: None)
    waiter = hub.open("u1")
    body = live.Closing(iter(["a"]), lambda: hub.close(waiter))
    body.close()
    body.close()
    assert hub.count == 0
