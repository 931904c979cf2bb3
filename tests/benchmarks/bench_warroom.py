"""War-room benchmark (`make bench`): 200 websocket clients in one war room while 20 timeline
events a second for 30 s are posted through the API, on the production ASGI server with
PostgreSQL and the Redis channel layer.

Each client counts deliveries as the page (static/js/live.js) ends up with them: a note's
`timeline` message in sequence is delivered live; after a gap, or a pong showing the server
ahead, the client resyncs, and the notes the snapshot brings are caught up (late). Prints the
deliveries expected (events × clients), delivered live, caught up, lost (never received, even
by a catch-up, by the end of the drain: must be 0) and duplicated (a note sent live twice to
one client: must be 0); the latency of the live deliveries from each API call's start and from
its response (p50, p99, max), and of the catch-ups; and where the CPU went.

    .venv/bin/python -m tests.benchmarks.bench_warroom [--clients 200] [--rate 20] [--seconds 30]
        [--drain 30] [--hog N]
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from tests.benchmarks._common import (
    HOST,
    CpuSample,
    Endpoint,
    HttpConnection,
    add_server_arguments,
    markdown_table,
    parse_with_hog,
    percentile_ms,
    print_machine_load,
    running_server,
    server_command,
    server_log,
    setup_django,
    signed_in_session,
    stop_on_sigterm,
)

STAFF = tuple(f"bench-warroom-{i}" for i in range(1, 6))  # responders the clients sign in as
MANAGER = "bench-warroom-manager"
# Each note's text: a sequence number and the wall-clock time its API call started.
MARKER = "bench-warroom"
NOTE = re.compile(rf"{MARKER} seq=(\d+) sent=\d+\.\d+")
AIM_P99_MS = 200
CONNECTS_AT_ONCE = 20  # handshakes in flight while the clients connect
# What static/js/live.js does:
PING_SECONDS = 20  # a ping this often (answered with the streams' positions)
IN_FLIGHT_SECONDS = 2  # a pong ahead of the page: resync unless the message came by then
RESYNC_WITHIN_SECONDS = 10  # a resync not answered by then: reconnect
RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 0.5, 10  # reconnecting: the first delay, doubling
CLOSED_FOR_GOOD = (4401, 4403, 4404)  # close codes after which the page does not reconnect
CONNECT_TIMEOUT = 60  # seconds for a handshake and its snapshot
KEEP_ALIVE_SECONDS = 4  # uvicorn closes a keep-alive connection idle for 5 s


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200, help="websocket clients in the room")
    parser.add_argument("--rate", type=float, default=20, help="timeline events per second")
    parser.add_argument("--seconds", type=float, default=30, help="how long events are posted")
    parser.add_argument(
        "--drain",
        type=float,
        default=30,
        help="seconds at most to wait for late deliveries and catch-ups at the end",
    )
    add_server_arguments(parser, port=8106)
    return parse_with_hog(parser, argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_sigterm()
    env = setup_django()
    room = prepare_room()
    command = server_command(args.server, args.port, args.app)
    print(f"Server: {' '.join(command[1:])}")
    print(
        f"Load: {args.clients} websocket clients in {room.number}'s war room; "
        f"{args.rate:g} notes/s for {args.seconds:g} s through the API, then up to "
        f"{args.drain:g} s for late deliveries"
    )
    with running_server(command, port=args.port, env=env) as server:
        print_machine_load()
        run = asyncio.run(drive(room, args, server.pid))
    print()
    print(report(run))
    problems = run.problems()
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"The server's log: {server_log(args.port)}", file=sys.stderr)
    return 1 if problems else 0


# --- the room -----------------------------------------------------------------------------------
# Django's modules are imported inside the functions: main() sets Django up only after pointing
# the environment at the benchmark's database.


@dataclass(frozen=True)
class Room:
    number: str
    token: str  # a bearer token of the user who posts the notes
    sessions: tuple[str, ...]  # session keys of the staff the clients sign in as


def prepare_room() -> Room:
    """Migrate, then declare a new P1 major incident (a fresh war room every run) and sign the
    staff in: a session each, made directly, and a bearer token for the first."""
    from django.core.management import call_command
    from django.db import connections

    from incidents.choices import ChangeSource
    from incidents.services import incident_create
    from itsm.roles import Role
    from itsm.services import token_create
    from warroom.services import major_incident_declare

    call_command("migrate", interactive=False, verbosity=0)
    staff = [user_with_role(name, Role.RESPONDER) for name in STAFF]
    manager = user_with_role(MANAGER, Role.ITSM_MANAGER)
    incident = incident_create(
        actor=staff[0],
        source=ChangeSource.CLI,
        title="Checkout down for every customer (benchmark)",
        impact=1,
        urgency=1,
    )
    major_incident_declare(
        incident=incident,
        actor=manager,
        source=ChangeSource.CLI,
        manager=manager,
        initial_impact_statement="Nobody can pay; seeded by tests/benchmarks/bench_warroom.py.",
        bridge_link="https://meet.example.com/bench-warroom",
    )
    _, token = token_create(user=staff[0], name="benchmark")
    room = Room(incident.number, token, tuple(signed_in_session(user) for user in staff))
    connections.close_all()
    return room


def user_with_role(username: str, role: str):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user, _ = get_user_model().objects.get_or_create(username=username)
    user.groups.add(Group.objects.get(name=role))
    return user


# --- the load -----------------------------------------------------------------------------------


@dataclass
class Run:
    """What the sender and the clients saw. Times are time.time(), shared by both sides."""

    clients: int = 0
    failed_clients: int = 0
    first_client_error: str = ""
    snapshot_seconds: list[float] = field(default_factory=list)
    reconnects: int = 0  # connections a client reopened (dropped, or a resync unanswered)
    first_reconnect: str = ""
    resyncs: int = 0  # resync requests the clients sent
    resync_seconds: list[float] = field(default_factory=list)  # each answered one's wait
    reordered: int = 0  # numbered messages that came after a later one of their stream
    started: dict[int, float] = field(default_factory=dict)  # note → its API call's start
    answered: dict[int, float] = field(default_factory=dict)  # note → its 201 response
    api_seconds: list[float] = field(default_factory=list)
    api_errors: int = 0
    first_api_error: str = ""
    sending_seconds: float = 0.0
    live: dict[tuple[int, int], float] = field(default_factory=dict)  # (client, note) → receipt
    caught_up: dict[tuple[int, int], float] = field(default_factory=dict)  # … → its snapshot
    duplicates: int = 0
    event_ids: dict[int, int] = field(default_factory=dict)  # note → its event's id
    behind_since: int = 0  # lost deliveries older than the newest event their client held
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    measured_seconds: float = 0.0

    @property
    def expected(self) -> int:
        return len(self.answered) * self.clients

    def _created(self, received: dict[tuple[int, int], float]) -> int:
        return sum(1 for (_, note) in received if note in self.answered)

    @property
    def delivered_live(self) -> int:
        return self._created(self.live)

    @property
    def delivered_late(self) -> int:
        return self._created(self.caught_up)

    @property
    def lost(self) -> int:
        return self.expected - self.delivered_live - self.delivered_late

    def has(self, key: tuple[int, int]) -> bool:
        return key in self.live or key in self.caught_up

    def count_behind_since(self, client: int, newest_event: int | None) -> None:
        """Count the notes `client` lacks whose event is older than the newest it holds: no
        resync or reconnection (`since` = that newest id) can bring them."""
        self.behind_since += sum(
            1
            for note in self.answered
            if not self.has((client, note))
            and self.event_ids.get(note, float("inf")) < (newest_event or 0)
        )

    def latencies(self, received: dict[tuple[int, int], float], since: dict[int, float]):
        """Each delivery in `received` of a created note, from that note's time in `since`."""
        return [at - since[note] for (_, note), at in received.items() if note in self.answered]

    def problems(self) -> list[str]:
        problems = []
        if self.failed_clients:
            problems.append(
                f"{self.failed_clients} clients did not get their snapshot; first: "
                f"{self.first_client_error}"
            )
        if self.reconnects:
            problems.append(f"{self.reconnects} reconnections; first: {self.first_reconnect}")
        if self.api_errors:
            problems.append(f"{self.api_errors} notes not created; first: {self.first_api_error}")
        if self.lost:
            problems.append(f"{self.lost:,} deliveries lost")
        if self.duplicates:
            problems.append(f"{self.duplicates:,} deliveries duplicated")
        return problems


@dataclass(frozen=True)
class Address:
    """Where the pages connect, and the session cookie of each."""

    url: str
    origin: str
    sessions: tuple[str, ...]


class Page:
    """One war-room page, doing what static/js/live.js does: it signs in with a session
    cookie, remembers the last `seq` of each stream and the newest event id it holds, skips
    a numbered message it has, and after a gap, or a pong ahead of it for IN_FLIGHT_SECONDS
    (behind it: at once), sends `resync` with `since` and skips everything until the snapshot
    comes (RESYNC_WITHIN_SECONDS, else it reconnects). A dropped connection is reopened with
    `?since=`, after 0.5, 1, 2… s. A note is delivered live when its `timeline` message is
    passed on, late when a later snapshot holds it; a note the page already has counts once."""

    def __init__(self, index: int, run: Run, address: Address):
        self.index = index
        self.run = run
        self.address = address
        self.socket: ClientConnection | None = None
        # The socket the page closed when a resync went unanswered: as a browser's, once
        # closing, it hears nothing more.
        self.abandoned: ClientConnection | None = None
        self.ready = asyncio.Event()  # this connection's snapshot has arrived
        self.seqs: dict[str, int] = {}  # stream → the last number the page has
        # stream → messages that came ahead of a gap, by number, until it fills
        self.held: dict[str, dict[int, dict]] = {}
        self.highest: dict[str, int] = {}  # stream → the highest number that came
        self.last_event: int | None = None
        self.resync_timer: asyncio.TimerHandle | None = None  # a resync is under way
        self.resync_sent = 0.0
        self.failures = 0
        self.tasks: set[asyncio.Task] = set()
        self.listener: asyncio.Task | None = None
        self.closing = False

    async def open(self) -> bool:
        """Connect and wait for the snapshot; False (and the socket closed) when that failed."""
        from django.conf import settings

        started = time.time()
        url = self.address.url
        if self.last_event is not None:
            url += f"?since={self.last_event}"
        session = self.address.sessions[self.index % len(self.address.sessions)]
        self.ready.clear()
        try:
            self.socket = await connect(
                url,
                origin=self.address.origin,
                additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"},
                open_timeout=CONNECT_TIMEOUT,
                ping_interval=None,  # a browser sends no protocol pings
                max_size=None,
            )
            self.listener = asyncio.create_task(self._listen(self.socket))
            await self._snapshot_or_close()
        except (OSError, TimeoutError, WebSocketException, ValueError) as exc:
            self.run.first_client_error = self.run.first_client_error or repr(exc)
            if self.socket is not None:
                await self.socket.close()
            self.socket = None
            return False
        self.run.snapshot_seconds.append(time.time() - started)
        return True

    async def _snapshot_or_close(self) -> None:
        """Until the snapshot came; TimeoutError when it did not, or the socket closed first."""
        ready = asyncio.create_task(self.ready.wait())
        await asyncio.wait(
            {ready, self.listener}, timeout=CONNECT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        ready.cancel()
        if not self.ready.is_set():
            code = self.socket.close_code
            raise TimeoutError(f"no snapshot (closed with {code})" if code else "no snapshot")

    async def _listen(self, socket: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in socket:
                if socket is not self.abandoned:
                    self._heard(json.loads(text), time.time())
        was_live = self.ready.is_set()
        self.ready.clear()
        self._cancel_resync()
        if was_live and not self.closing:
            self._background(self._reconnect(socket))

    async def _reconnect(self, closed: ClientConnection) -> None:
        """Reopen the connection after a jittered, doubling delay, as the page does."""
        run = self.run
        run.reconnects += 1
        run.first_reconnect = run.first_reconnect or (
            f"code {closed.close_code} {closed.close_reason!r} (client {self.index})"
        )
        if closed.close_code in CLOSED_FOR_GOOD:
            return
        while not self.closing:
            delay = min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2**self.failures)
            self.failures += 1
            await asyncio.sleep(delay * (0.5 + random.random() / 2))
            if not self.closing and await self.open():
                return

    def _heard(self, message: dict, received: float) -> None:
        kind = message.get("kind")
        if kind == "snapshot":
            self._snapshot(message, received)
        elif kind == "pong":
            self._compare(message["seqs"])
        elif "stream" in message:
            self._count_reordering(message)
            for accepted in self._accept(message):
                if accepted.get("kind") == "timeline":
                    self._timeline(accepted["event"], received)

    def _count_reordering(self, message: dict) -> None:
        """A message after a later one of its stream: a gap to the page, though nothing was
        lost (two processes numbered and sent their messages in opposite orders)."""
        stream, seq = message["stream"], message["seq"]
        if seq < self.highest.get(stream, 0):
            self.run.reordered += 1
        else:
            self.highest[stream] = seq

    def _snapshot(self, message: dict, received: float) -> None:
        if self.resync_timer is not None:
            self.run.resync_seconds.append(time.monotonic() - self.resync_sent)
        self._cancel_resync()
        self.seqs = dict(message["seqs"])
        self.held.clear()
        self.failures = 0
        for event in message["timeline"]["events"]:
            self._hold(event)
            note = self._note(event)
            if note is not None and not self.run.has((self.index, note)):
                self.run.caught_up[(self.index, note)] = received
        self.ready.set()

    def _timeline(self, event: dict, received: float) -> None:
        self._hold(event)
        note = self._note(event)
        if note is None:
            return
        key = (self.index, note)
        if key in self.run.live:
            self.run.duplicates += 1  # the server sent it twice, each numbered
        elif key not in self.run.caught_up:
            self.run.live[key] = received

    def _hold(self, event: dict) -> None:
        """The page shows `event`: the next `since` is the newest id it shows."""
        self.last_event = max(self.last_event or 0, event["id"])

    def _note(self, event: dict) -> int | None:
        match = NOTE.fullmatch(event["data"].get("text", ""))
        if match is None:
            return None
        note = int(match[1])
        self.run.event_ids[note] = event["id"]
        return note

    def _accept(self, message: dict) -> list[dict]:
        """The numbered messages now in order: `message` and those it lets through. One ahead
        of a gap is held until the gap fills (two processes may send a stream's messages in
        the opposite order), or for IN_FLIGHT_SECONDS, after which the page resyncs."""
        if self.resync_timer is not None:
            return []  # the snapshot on its way holds it
        stream, seq = message["stream"], message["seq"]
        last = self.seqs.get(stream)
        if not last:  # no count yet when the snapshot was read: any first number follows
            if last == 0:
                self.seqs[stream] = seq
            return [message]
        if seq <= last:
            return []
        held = self.held.setdefault(stream, {})
        waiting = bool(held)
        held[seq] = message
        accepted = []
        while (after := held.pop(self.seqs[stream] + 1, None)) is not None:
            self.seqs[stream] = after["seq"]
            accepted.append(after)
        if held and not waiting:
            self._background(self._resync_if_still_held(stream))
        return accepted

    async def _resync_if_still_held(self, stream: str) -> None:
        await asyncio.sleep(IN_FLIGHT_SECONDS)
        if self.held.get(stream):
            self._resync()

    def _compare(self, positions: dict[str, int]) -> None:
        """A pong behind the page: the count started again, resync; ahead: a message was
        lost, unless it is still on its way."""
        for stream, seq in positions.items():
            last = self.seqs.get(stream, 0)
            if seq < last:
                self._resync()
            elif seq > last:
                self._background(self._resync_if_behind(stream, seq))

    async def _resync_if_behind(self, stream: str, seq: int) -> None:
        await asyncio.sleep(IN_FLIGHT_SECONDS)
        if self.seqs.get(stream, 0) < seq:
            self._resync()

    def _resync(self) -> None:
        if self.resync_timer is not None:
            return
        if not self._send({"type": "resync", "query": self._query()}):
            return
        self.run.resyncs += 1
        self.resync_sent = time.monotonic()
        self.resync_timer = asyncio.get_running_loop().call_later(
            RESYNC_WITHIN_SECONDS, self._abandon, self.socket
        )

    def _abandon(self, socket: ClientConnection) -> None:
        self.abandoned = socket
        self._background(socket.close())

    def _cancel_resync(self) -> None:
        if self.resync_timer is not None:
            self.resync_timer.cancel()
            self.resync_timer = None

    def _query(self) -> dict[str, str]:
        return {} if self.last_event is None else {"since": str(self.last_event)}

    def _send(self, message: dict) -> bool:
        """Send if this connection is live, without waiting (as a browser's send)."""
        if not self.ready.is_set() or self.socket in (None, self.abandoned):
            return False
        self._background(self.socket.send(json.dumps(message)))
        return True

    def ping(self) -> None:
        self._send({"type": "ping"})

    def _background(self, work: Coroutine) -> None:
        """Run `work` beside the listener until the page closes; a send on a socket that
        closed meanwhile fails quietly (the page reconnects)."""

        async def quietly() -> None:
            with contextlib.suppress(ConnectionClosed):
                await work

        task = asyncio.create_task(quietly())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def start_pinging(self) -> None:
        """Ping every PING_SECONDS, as the page does."""

        async def pinging() -> None:
            while True:
                await asyncio.sleep(PING_SECONDS)
                self.ping()

        self._background(pinging())

    async def close(self) -> None:
        self.closing = True
        self._cancel_resync()
        for task in list(self.tasks):
            task.cancel()
        if self.socket is not None:
            await self.socket.close()
        if self.listener is not None:
            await self.listener


async def open_pages(room: Room, port: int, clients: int, run: Run) -> list[Page]:
    address = Address(
        url=f"ws://{HOST}:{port}/ws/warroom/{room.number}/",
        origin=f"http://{HOST}:{port}",
        sessions=room.sessions,
    )
    gate = asyncio.Semaphore(CONNECTS_AT_ONCE)
    pages = [Page(i, run, address) for i in range(clients)]

    async def open_one(page: Page) -> None:
        async with gate:
            opened = await page.open()
        if opened:
            run.clients += 1
            page.start_pinging()
        else:
            run.failed_clients += 1

    started = time.monotonic()
    await asyncio.gather(*(open_one(page) for page in pages))
    print(
        f"{run.clients} clients connected in {time.monotonic() - started:.1f} s "
        f"(handshake to snapshot p50 {percentile_ms(run.snapshot_seconds, 50):.0f} ms, "
        f"max {percentile_ms(run.snapshot_seconds, 100):.0f} ms); "
        f"{run.failed_clients} failed",
        flush=True,
    )
    return [page for page in pages if page.socket is not None]


async def post_notes(room: Room, port: int, rate: float, seconds: float, run: Run) -> None:
    """POST a note every 1/rate s on schedule, whatever earlier calls are still waiting for,
    over a pool of keep-alive connections that grows when every connection is busy."""
    path = f"/api/incidents/{room.number}/notes/"
    headers = (
        ("Authorization", f"Bearer {room.token}"),
        ("Accept", "application/json"),
        ("Content-Type", "application/json"),
    )
    idle: list[tuple[HttpConnection, float]] = []  # and since when, the latest last

    async def checkout() -> HttpConnection:
        """The connection used last, or a new one; those idle too long are closed, since the
        server may close them at any moment."""
        while idle:
            connection, since = idle.pop()
            if time.monotonic() - since < KEEP_ALIVE_SECONDS:
                return connection
            await connection.close()
        return HttpConnection(port)

    async def post(note: int) -> None:
        connection = await checkout()
        started = run.started[note] = time.time()
        body = json.dumps({"text": f"{MARKER} seq={note} sent={started:.6f}"}).encode()
        try:
            status, answer = await connection.request(
                Endpoint("note", "POST", (path,), headers, body), path
            )
        except (OSError, asyncio.IncompleteReadError) as exc:
            await connection.close()
            status, answer = 0, repr(exc).encode()
        if status == 201:
            run.answered[note] = time.time()
            run.api_seconds.append(run.answered[note] - started)
        else:
            run.api_errors += 1
            run.first_api_error = run.first_api_error or f"{status} {answer[:300]!r}"
        idle.append((connection, time.monotonic()))

    began = time.monotonic()
    calls = []
    for note in range(round(rate * seconds)):
        await asyncio.sleep(max(0.0, began + note / rate - time.monotonic()))
        calls.append(asyncio.create_task(post(note)))
    await asyncio.gather(*calls)
    run.sending_seconds = time.monotonic() - began
    for connection, _ in idle:
        await connection.close()


async def drain(run: Run, pages: list[Page], seconds: float) -> None:
    """Have every page ping at once (its next ping, brought forward: a page that missed the
    last note hears of it only from a pong), then wait until every delivery arrived, live or
    caught up, or `seconds` passed."""
    for page in pages:
        page.ping()
    deadline = time.monotonic() + seconds
    while len(run.live) + len(run.caught_up) < run.expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def drive(room: Room, args: argparse.Namespace, server_pid: int) -> Run:
    run = Run()
    pages = await open_pages(room, args.port, args.clients, run)
    try:
        before = CpuUse.take(server_pid)
        await post_notes(room, args.port, args.rate, args.seconds, run)
        await drain(run, pages, args.drain)
        run.cpu_seconds, run.measured_seconds = CpuUse.take(server_pid).since(before)
        for page in pages:
            run.count_behind_since(page.index, page.last_event)
    finally:
        await asyncio.gather(*(page.close() for page in pages))
    return run


@dataclass(frozen=True)
class CpuUse:
    """CpuSample plus this process (the load generator) and the Redis server, which the
    channel layer's fan-out goes through."""

    at: float
    sample: CpuSample
    client: float
    redis: float

    @classmethod
    def take(cls, server_pid: int) -> "CpuUse":
        import redis

        info = redis.Redis.from_url(os.environ["REDIS_URL"]).info("cpu")
        return cls(
            at=time.monotonic(),
            sample=CpuSample.take(server_pid),
            client=time.process_time(),
            redis=info["used_cpu_user"] + info["used_cpu_sys"],
        )

    def since(self, before: "CpuUse") -> tuple[dict[str, float], float]:
        """CPU seconds each part used since `before`, and the seconds elapsed."""
        used = {
            "server": self.sample.server - before.sample.server,
            "PostgreSQL": self.sample.database - before.sample.database,
            "Redis": self.redis - before.redis,
            "load generator": self.client - before.client,
        }
        used["other"] = self.sample.machine - before.sample.machine - sum(used.values())
        return used, self.at - before.at


# --- the report ---------------------------------------------------------------------------------


def report(run: Run) -> str:
    events = len(run.answered)
    delivery = markdown_table(
        [
            "clients",
            "events sent",
            "events/s",
            "deliveries expected",
            "delivered live",
            "caught up",
            "lost",
            "duplicates",
            "resyncs",
            "reconnects",
            "server CPU ms/event",
        ],
        [
            [
                f"{run.clients:,}",
                f"{events:,}",
                f"{events / run.sending_seconds if run.sending_seconds else 0:.1f}",
                f"{run.expected:,}",
                f"{run.delivered_live:,}",
                f"{run.delivered_late:,}",
                f"{run.lost:,}",
                f"{run.duplicates:,}",
                f"{run.resyncs:,}",
                f"{run.reconnects:,}",
                f"{run.cpu_seconds['server'] / events * 1000 if events else 0:.1f}",
            ]
        ],
    )
    latency = markdown_table(
        ["latency to websocket receipt", "p50 ms", "p99 ms", "max ms", "aim", "met"],
        [
            _latency_row(
                "live, from the API call's start",
                run.latencies(run.live, run.started),
                aim_p99_ms=AIM_P99_MS,
            ),
            _latency_row(
                "live, from the API response (commit)", run.latencies(run.live, run.answered)
            ),
            _latency_row(
                "caught up, from the API call's start", run.latencies(run.caught_up, run.started)
            ),
        ],
    )
    cpu = ", ".join(
        f"{name} {seconds / run.measured_seconds:.0%}" for name, seconds in run.cpu_seconds.items()
    )
    return (
        f"{delivery}\n\n{latency}\n\n"
        f"{run.reordered:,} numbered messages came after a later one of their stream (held by "
        f"the page until the gap filled, as live.js does). Resyncs answered: "
        f"{len(run.resync_seconds):,} of {run.resyncs:,}, in p50 "
        f"{percentile_ms(run.resync_seconds, 50):.0f} ms, p99 "
        f"{percentile_ms(run.resync_seconds, 99):.0f} ms (the others: not within "
        f"{RESYNC_WITHIN_SECONDS} s, and the page reconnected, or not by the end). Of the lost, "
        f"{run.behind_since:,} were older than the newest event their client held: no resync "
        f"or reconnection (since = that id) could bring them.\n"
        f"The API call itself (POST /api/incidents/{{number}}/notes/): p50 "
        f"{percentile_ms(run.api_seconds, 50):.1f} ms, p99 {percentile_ms(run.api_seconds, 99):.1f}"
        f" ms. CPU while the events were sent and drained ({run.measured_seconds:.0f} s), in "
        f"shares of one core: {cpu}."
    )


def _latency_row(name: str, seconds: list[float], *, aim_p99_ms: float | None = None) -> list[str]:
    cells = [name, *(f"{percentile_ms(seconds, p):.1f}" for p in (50, 99, 100))]
    if aim_p99_ms is None:
        return [*cells, "—", "—"]
    met = bool(seconds) and percentile_ms(seconds, 99) < aim_p99_ms
    return [*cells, f"p99 < {aim_p99_ms}", "yes" if met else "NO"]


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("Interrupted; the server has been stopped.")
