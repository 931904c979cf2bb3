"""War-room benchmark (`make bench`): 200 websocket clients in one war room while 20 timeline
events a second for 30 s are posted through the API, on the production ASGI server with
PostgreSQL and the Redis channel layer.

Prints the deliveries expected (events × clients), delivered, lost (must be 0) and duplicated;
the latency from each API call's start, and from its response, to each client's receipt (p50,
p99, max); and where the CPU went.

    .venv/bin/python -m tests.benchmarks.bench_warroom [--clients 200] [--rate 20] [--seconds 30]
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import time
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
    stop_on_sigterm,
)

STAFF = tuple(f"bench-warroom-{i}" for i in range(1, 6))  # responders the clients sign in as
MANAGER = "bench-warroom-manager"
# Each note's text: a sequence number and the wall-clock time its API call started.
MARKER = "bench-warroom"
NOTE = re.compile(rf"{MARKER} seq=(\d+) sent=\d+\.\d+")
AIM_P99_MS = 200
CONNECTS_AT_ONCE = 20  # handshakes in flight while the clients connect
PING_SECONDS = 20  # what the page sends to keep its presence fresh
CONNECT_TIMEOUT = 60  # seconds for a handshake and its snapshot
KEEP_ALIVE_SECONDS = 4  # uvicorn closes a keep-alive connection idle for 5 s


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200, help="websocket clients in the room")
    parser.add_argument("--rate", type=float, default=20, help="timeline events per second")
    parser.add_argument("--seconds", type=float, default=30, help="how long events are posted")
    parser.add_argument(
        "--drain", type=float, default=5, help="seconds to wait for late deliveries at the end"
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


def signed_in_session(user) -> str:
    """The key of a session in which `user` is signed in, as the login view leaves it."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


# --- the load -----------------------------------------------------------------------------------


@dataclass
class Run:
    """What the sender and the clients saw. Times are time.time(), shared by both sides."""

    clients: int = 0
    failed_clients: int = 0
    first_client_error: str = ""
    snapshot_seconds: list[float] = field(default_factory=list)
    dropped: int = 0  # clients whose connection closed before the end
    first_drop: str = ""
    started: dict[int, float] = field(default_factory=dict)  # note → its API call's start
    answered: dict[int, float] = field(default_factory=dict)  # note → its 201 response
    api_seconds: list[float] = field(default_factory=list)
    api_errors: int = 0
    first_api_error: str = ""
    sending_seconds: float = 0.0
    received: dict[tuple[int, int], float] = field(default_factory=dict)  # (client, note) → first
    duplicates: int = 0
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    measured_seconds: float = 0.0

    @property
    def expected(self) -> int:
        return len(self.answered) * self.clients

    @property
    def delivered(self) -> int:
        return sum(1 for (_, note) in self.received if note in self.answered)

    @property
    def lost(self) -> int:
        return self.expected - self.delivered

    def latencies(self, since: dict[int, float]) -> list[float]:
        """Each delivery of a created note, from that note's time in `since`."""
        received = self.received.items()
        return [at - since[note] for (_, note), at in received if note in self.answered]

    def problems(self) -> list[str]:
        problems = []
        if self.failed_clients:
            problems.append(
                f"{self.failed_clients} clients did not get their snapshot; first: "
                f"{self.first_client_error}"
            )
        if self.dropped:
            problems.append(f"{self.dropped} clients were disconnected; first: {self.first_drop}")
        if self.api_errors:
            problems.append(f"{self.api_errors} notes not created; first: {self.first_api_error}")
        if self.lost:
            problems.append(f"{self.lost:,} deliveries lost")
        if self.duplicates:
            problems.append(f"{self.duplicates:,} deliveries duplicated")
        return problems


class Page:
    """One war-room page: signs in with a session cookie, waits for its snapshot, then notes
    when each benchmark note arrives, and pings as the page does."""

    def __init__(self, index: int, run: Run):
        self.index = index
        self.run = run
        self.socket: ClientConnection | None = None
        self.tasks: list[asyncio.Task] = []
        self.closing = False

    async def open(self, url: str, origin: str, session: str) -> None:
        from django.conf import settings

        started = time.time()
        try:
            self.socket = await connect(
                url,
                origin=origin,
                additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"},
                open_timeout=CONNECT_TIMEOUT,
                ping_interval=None,  # a browser sends no protocol pings
                max_size=None,
            )
            await asyncio.wait_for(self._snapshot(), CONNECT_TIMEOUT)
        except (OSError, TimeoutError, WebSocketException, ValueError) as exc:
            self.run.failed_clients += 1
            self.run.first_client_error = self.run.first_client_error or repr(exc)
            if self.socket is not None:
                await self.socket.close()
            self.socket = None
            return
        self.run.clients += 1
        self.run.snapshot_seconds.append(time.time() - started)
        self.tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._ping())]

    async def _snapshot(self) -> None:
        """Wait for the snapshot; presence changes of other pages may come first."""
        while json.loads(await self.socket.recv()).get("kind") != "snapshot":
            pass

    async def _listen(self) -> None:
        run = self.run
        try:
            async for text in self.socket:
                received = time.time()
                if MARKER not in text:  # presence, pongs: cheaper than parsing every one
                    continue
                message = json.loads(text)
                match = message.get("kind") == "timeline" and NOTE.fullmatch(
                    message["event"]["data"].get("text", "")
                )
                if match:
                    key = (self.index, int(match[1]))
                    if key in run.received:
                        run.duplicates += 1
                    else:
                        run.received[key] = received
        except ConnectionClosed:
            pass
        if not self.closing:
            run.dropped += 1
            run.first_drop = run.first_drop or (
                f"code {self.socket.close_code} {self.socket.close_reason!r} after "
                f"{len([key for key in run.received if key[0] == self.index])} notes"
            )

    async def _ping(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(PING_SECONDS)
                await self.socket.send(json.dumps({"type": "ping"}))

    async def close(self) -> None:
        if self.socket is not None:
            self.closing = True
            self.tasks[1].cancel()
            await self.socket.close()
            await self.tasks[0]


async def open_pages(room: Room, port: int, clients: int, run: Run) -> list[Page]:
    url = f"ws://{HOST}:{port}/ws/warroom/{room.number}/"
    origin = f"http://{HOST}:{port}"
    gate = asyncio.Semaphore(CONNECTS_AT_ONCE)
    pages = [Page(i, run) for i in range(clients)]

    async def open_one(page: Page) -> None:
        async with gate:
            await page.open(url, origin, room.sessions[page.index % len(room.sessions)])

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


async def drain(run: Run, seconds: float) -> None:
    """Wait until every delivery arrived, or `seconds` passed."""
    deadline = time.monotonic() + seconds
    while len(run.received) < run.expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def drive(room: Room, args: argparse.Namespace, server_pid: int) -> Run:
    run = Run()
    pages = await open_pages(room, args.port, args.clients, run)
    try:
        before = CpuUse.take(server_pid)
        await post_notes(room, args.port, args.rate, args.seconds, run)
        await drain(run, args.drain)
        run.cpu_seconds, run.measured_seconds = CpuUse.take(server_pid).since(before)
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
            "delivered",
            "lost",
            "duplicates",
            "dropped clients",
            "server CPU ms/event",
        ],
        [
            [
                f"{run.clients:,}",
                f"{events:,}",
                f"{events / run.sending_seconds if run.sending_seconds else 0:.1f}",
                f"{run.expected:,}",
                f"{run.delivered:,}",
                f"{run.lost:,}",
                f"{run.duplicates:,}",
                f"{run.dropped:,}",
                f"{run.cpu_seconds['server'] / events * 1000 if events else 0:.1f}",
            ]
        ],
    )
    from_start = run.latencies(run.started)
    from_commit = run.latencies(run.answered)
    latency = markdown_table(
        ["latency to websocket receipt", "p50 ms", "p99 ms", "max ms", "aim", "met"],
        [
            _latency_row("from the API call's start", from_start, aim_p99_ms=AIM_P99_MS),
            _latency_row("from the API response (commit)", from_commit),
        ],
    )
    cpu = ", ".join(
        f"{name} {seconds / run.measured_seconds:.0%}" for name, seconds in run.cpu_seconds.items()
    )
    return (
        f"{delivery}\n\n{latency}\n\n"
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
