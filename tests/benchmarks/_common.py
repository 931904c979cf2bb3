"""What every benchmark shares: the database it runs on, the server it starts, the load it drives
and the table it prints.

The load driver speaks HTTP/1.1 over asyncio streams itself instead of using httpx: on a 2-core
machine the client shares the CPU with the server, and httpx spends about 2 ms of CPU per
request where this client spends about 0.15 ms, so httpx would slow the very server it measures.
"""

import asyncio
import atexit
import contextlib
import multiprocessing
import os
import random
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import django
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

PROJECT_DIR = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/itsm_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/5"
READY_TIMEOUT_SECONDS = 60
STOP_GRACE_SECONDS = 10


# --- database and environment ------------------------------------------------------------------


def database_url() -> str:
    """DATABASE_URL, or the benchmark's own database; SQLite is refused."""
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit(
            f"The benchmarks measure the production setup and need PostgreSQL; DATABASE_URL is "
            f"{url.split(':', 1)[0]!r}. Unset it to use {DEFAULT_DATABASE_URL}, or point it at "
            f"a PostgreSQL database."
        )
    return url


def ensure_database(url: str) -> None:
    """Create the database `url` names when it does not exist yet (connecting to `postgres`)."""
    params = conninfo_to_dict(url)
    name = params.get("dbname") or params.get("user") or "postgres"
    with psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"Created database {name}.")


def database_on_same_server(name: str) -> str:
    """DATABASE_URL (or the benchmarks' default) with the database name replaced, for a
    benchmark that empties its tables or piles up data, so it never runs in another's
    database."""
    parts = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


def setup_django_in_own_database(name: str, *, redis: str) -> dict[str, str]:
    """`setup_django` on the database `name` of DATABASE_URL's server, with REDIS_URL (or
    `redis` when it is unset)."""
    os.environ["DATABASE_URL"] = database_on_same_server(name)
    os.environ.setdefault("REDIS_URL", redis)
    return setup_django()


def setup_django() -> dict[str, str]:
    """Point this process at the benchmark's PostgreSQL and Redis under production settings and
    set Django up; return the environment the server subprocess gets."""
    database = database_url()
    ensure_database(database)
    env = production_environment(
        database=database, redis=os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    )
    os.environ.update(env)
    django.setup()
    return env


def signed_in_session(user) -> str:
    """The key of a session in which `user` is signed in, as the login view leaves it."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    # The backend that signs a local user in (the first listed, axes', only guards sign-ins).
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def stop_on_sigterm() -> None:
    """Let SIGTERM unwind like Ctrl-C does, so `finally` blocks stop the server either way."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def production_environment(*, database: str, redis: str) -> dict[str, str]:
    """Production settings (DEBUG off) over plain HTTP on loopback, with quiet logs."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="itsm.settings",
        DATABASE_URL=database,
        REDIS_URL=redis,
        DEBUG="false",
        SECRET_KEY=env.get("SECRET_KEY") or secrets.token_urlsafe(50),
        SECURE_SSL_REDIRECT="false",
        WORKER_HEARTBEAT_REQUIRED="false",
        LOG_LEVEL="WARNING",
    )
    env.pop("ITSM_TESTING", None)
    return env


def reserve_incident_numbers(count: int) -> list[str]:
    """`count` incident numbers from the sequence the service numbers incidents with, for rows
    a benchmark inserts in bulk."""
    from django.db import connection

    from incidents.services import NUMBER_SEQUENCE, NUMBER_WIDTH

    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [NUMBER_SEQUENCE, count])
        return [f"INC{value:0{NUMBER_WIDTH}d}" for (value,) in cursor.fetchall()]


def vacuum_analyze(*models) -> None:
    """What autovacuum would do soon after a bulk load: fresh planner statistics and a
    visibility map, so the benchmark sees the plans a settled database gets."""
    from django.db import connection

    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


# --- the server --------------------------------------------------------------------------------


DEFAULT_APP = "itsm.asgi:application"
# The production ASGI servers, without access logs: daphne runs one process, uvicorn one worker
# process per core of the 2-core reference machine.
SERVERS = {
    "uvicorn": [
        "uvicorn",
        "--host",
        HOST,
        "--workers",
        "2",
        "--no-access-log",
        "--log-level",
        "warning",
    ],
    "daphne": ["daphne", "--bind", HOST, "-v", "0"],
}


def add_server_arguments(parser, *, port: int) -> None:
    """--server, --port and --app, for a benchmark that starts the web server."""
    parser.add_argument(
        "--server",
        choices=SERVERS,
        default="uvicorn",
        help="uvicorn: 2 worker processes; daphne: one process",
    )
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument(
        "--app",
        default=DEFAULT_APP,
        help="ASGI application to serve, to measure a change before making it",
    )


def server_command(name: str, port: int, app: str = DEFAULT_APP) -> list[str]:
    return [sys.executable, "-m", *SERVERS[name], "--port", str(port), app]


@contextlib.contextmanager
def running_server(
    command: list[str], *, port: int, env: dict[str, str]
) -> Iterator[subprocess.Popen]:
    """Start `command` with its output in `server_log(port)` (`running_command`) and wait until
    it answers /healthz/live."""
    with running_command(command, env=env, log=server_log(port)) as process:
        _wait_until_live(process, port)
        yield process


@contextlib.contextmanager
def running_command(
    command: list[str], *, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen]:
    """`command` in its own process group, output in `log`; the whole group is stopped on the
    way out, also on Ctrl-C or an error."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            _stop(process)


def wait_for_worker(log: Path) -> None:
    """Until the worker cluster (`manage.py qcluster`) has published its status."""
    from django_q.brokers import get_broker
    from django_q.status import Stat

    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not Stat.get_all(broker=get_broker()):
        if time.monotonic() > deadline:
            raise SystemExit(f"The worker did not start; see {log}.")
        time.sleep(0.2)


def server_log(port: int) -> Path:
    return PROJECT_DIR / "var" / f"bench-server-{port}.log"


def _wait_until_live(process: subprocess.Popen, port: int) -> None:
    url = f"http://{HOST}:{port}/healthz/live"
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"The server exited with {process.returncode}; see {server_log(port)}"
            )
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(
        f"The server did not answer {url} in {READY_TIMEOUT_SECONDS} s; see {server_log(port)}"
    )


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (uvicorn's workers too), SIGKILL if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- the load driver ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One request shape; each request takes one of `paths` at random."""

    name: str
    method: str
    paths: tuple[str, ...]
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    first_error: str = ""
    # CPU seconds used during the run by the load generator, the server's processes, the
    # PostgreSQL backends serving it, and everything else on the machine.
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    database_cpu: float = 0.0
    other_cpu: float = 0.0

    def merge(self, other: "LoadResult") -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.seconds = max(self.seconds, other.seconds)
        self.latencies.extend(other.latencies)
        self.first_error = self.first_error or other.first_error
        self.client_cpu += other.client_cpu

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, p: float) -> float:
        return percentile_ms(self.latencies, p)

    def cpu_ms_per_request(self, cpu_seconds: float) -> float:
        return cpu_seconds / self.requests * 1000 if self.requests else 0.0


def percentile_ms(seconds: list[float], p: float) -> float:
    """Nearest-rank percentile of durations in seconds, in milliseconds."""
    ordered = sorted(seconds)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] * 1000


class HttpConnection:
    """A keep-alive HTTP/1.1 connection that reads Content-Length and chunked bodies."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, endpoint: Endpoint, path: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        head = [
            f"{endpoint.method} {path} HTTP/1.1",
            f"Host: {HOST}:{self.port}",
            f"Content-Length: {len(endpoint.body)}",
        ]
        head += [f"{name}: {value}" for name, value in endpoint.headers]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + endpoint.body)
        status, headers = await self._read_head()
        body = await self._read_body(headers)
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, body

    async def _read_head(self) -> tuple[int, dict[str, str]]:
        lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    async def _read_body(self, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                chunks.append(await self.reader.readexactly(size + 2))
            await self.reader.readuntil(b"\r\n")
            return b"".join(chunk[:-2] for chunk in chunks)
        return await self.reader.readexactly(int(headers.get("content-length", "0")))

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def _drive(endpoint: Endpoint, port: int, stop_at: float, result: LoadResult) -> None:
    """One client: requests back to back on one connection until `stop_at`."""
    connection = HttpConnection(port)
    rng = random.Random()
    try:
        while (started := time.monotonic()) < stop_at:
            try:
                status, body = await connection.request(endpoint, rng.choice(endpoint.paths))
            except (OSError, asyncio.IncompleteReadError) as exc:
                await connection.close()
                status, body = 0, repr(exc).encode()
            result.requests += 1
            result.latencies.append(time.monotonic() - started)
            if not 200 <= status < 300:
                result.errors += 1
                result.first_error = result.first_error or f"{status} {body[:300]!r}"
    finally:
        await connection.close()


def _load_in_this_process(endpoint: Endpoint, port: int, clients: int, seconds: float):
    result = LoadResult(seconds=seconds)
    cpu_before = time.process_time()

    async def run() -> None:
        stop_at = time.monotonic() + seconds
        await asyncio.gather(*(_drive(endpoint, port, stop_at, result) for _ in range(clients)))

    asyncio.run(run())
    result.client_cpu = time.process_time() - cpu_before
    return result


def run_load(
    endpoint: Endpoint, *, port: int, clients: int, seconds: float, processes: int = 1
) -> LoadResult:
    """`clients` concurrent clients, spread over `processes` client processes, each sending
    `endpoint` requests back to back for `seconds`."""
    if processes == 1:
        return _load_in_this_process(endpoint, port, clients, seconds)
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]
    total = LoadResult()
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=spawn) as pool:
        futures = [
            pool.submit(_load_in_this_process, endpoint, port, share, seconds)
            for share in shares
            if share
        ]
        for future in futures:
            total.merge(future.result())
    return total


def measure(
    endpoint: Endpoint,
    *,
    server: subprocess.Popen,
    port: int,
    clients: int,
    seconds: float,
    warmup: float = 1.0,
    processes: int = 1,
) -> LoadResult:
    """Warm up (not counted), then `run_load`, recording where the CPU went meanwhile."""
    run_load(endpoint, port=port, clients=clients, seconds=warmup, processes=processes)
    before = CpuSample.take(server.pid)
    result = run_load(endpoint, port=port, clients=clients, seconds=seconds, processes=processes)
    after = CpuSample.take(server.pid)
    result.server_cpu = after.server - before.server
    result.database_cpu = after.database - before.database
    result.other_cpu = (
        after.machine - before.machine - result.server_cpu - result.database_cpu - result.client_cpu
    )
    return result


# --- where the CPU goes (Linux /proc) ------------------------------------------------------------


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds used so far by the whole machine, the server's process group, and the
    PostgreSQL backends connected to the benchmark's database."""

    machine: float
    server: float
    database: float

    @classmethod
    def take(cls, server_pgid: int) -> "CpuSample":
        stats = _process_stats()
        return cls(
            machine=_machine_busy_seconds(),
            server=sum(cpu for pgid, cpu in stats.values() if pgid == server_pgid),
            database=sum(stats.get(pid, (0, 0.0))[1] for pid in _database_backend_pids()),
        )


def _process_stats() -> dict[int, tuple[int, float]]:
    """Every process's group id and CPU seconds (user + system), its children's that ended
    included: a worker process that django-q2 recycled still counts for its cluster."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                stats[int(entry.name)] = (
                    int(fields[2]),
                    sum(int(field) for field in fields[11:15]) / ticks,
                )
    return stats


def _database_backend_pids() -> list[int]:
    with psycopg.connect(database_url()) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [pid for (pid,) in rows]


def _machine_busy_seconds() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:8]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


# A busy process for --hog: spins until its parent (the benchmark) is gone, even after a kill -9.
HOG_CODE = """
import os
parent = os.getppid()
while os.getppid() == parent:
    for _ in range(1_000_000):
        pass
"""


def parse_with_hog(parser, argv: list[str] | None):
    """`parser`'s arguments, with `--hog N`: the overload mode, N busy processes beside the
    benchmark from now until it exits (other work starving the processes, as on a shared
    machine: then things may be late, never lost or doubled)."""
    parser.add_argument(
        "--hog", type=int, default=0, metavar="N", help="N busy processes beside the benchmark"
    )
    args = parser.parse_args(argv)
    hogs = [subprocess.Popen([sys.executable, "-c", HOG_CODE]) for _ in range(args.hog)]
    atexit.register(_stop_all, hogs)
    if hogs:
        print(f"Overload: {len(hogs)} busy processes beside the benchmark (--hog {len(hogs)})")
    return args


def _stop_all(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.kill()
        process.wait()


def print_machine_load(seconds: float = 1.0) -> None:
    """Say how busy the machine is before the load starts; other work lowers every number."""
    before = _machine_busy_seconds()
    time.sleep(seconds)
    busy = (_machine_busy_seconds() - before) / seconds / (os.cpu_count() or 1)
    warning = "  <- other work is running; numbers will be low" if busy > 0.1 else ""
    print(f"CPU busy before the load (server idle): {busy:.0%}{warning}")


# --- output -------------------------------------------------------------------------------------


def load_report(results: dict[str, LoadResult], *, floor: str, aims: dict[str, float]) -> str:
    """Each endpoint's requests, errors, req/s, latency, ratio to the `floor` endpoint against
    its aim, and CPU per request; then how busy the load generator and the machine were."""
    floor_rate = results[floor].per_second
    rows = []
    for name, result in results.items():
        ratio = result.per_second / floor_rate if floor_rate else 0.0
        aim = aims.get(name)
        rows.append(
            [
                name,
                f"{result.requests:,}",
                f"{result.errors:,}",
                f"{result.per_second:,.0f}",
                f"{result.percentile_ms(50):.1f}",
                f"{result.percentile_ms(99):.1f}",
                f"{ratio:.2f}",
                f"≥ {aim}" if aim else "—",
                ("yes" if ratio >= aim else "NO") if aim else "—",
                f"{result.cpu_ms_per_request(result.server_cpu):.1f}",
                f"{result.cpu_ms_per_request(result.database_cpu):.1f}",
            ]
        )
    columns = [
        "endpoint",
        "requests",
        "errors",
        "req/s",
        "p50 ms",
        "p99 ms",
        "× floor",
        "aim",
        "met",
        "server CPU ms/req",
        "PostgreSQL CPU ms/req",
    ]
    client = max(r.client_cpu / r.seconds for r in results.values())
    other = max(r.other_cpu / r.seconds for r in results.values())
    return (
        f"{markdown_table(columns, rows)}\n\n"
        f"Load generator: at most {client:.0%} of one core. Other processes on the machine: at "
        f"most {other:.0%} of one core during a measured run."
    )


def markdown_table(columns: list[str], rows: list[list[str]]) -> str:
    """A Markdown table padded to line up in a terminal too; numbers align right."""
    cells = [columns, *rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    numeric = [all(_is_number(row[i]) for row in rows) for i in range(len(columns))]

    def line(row: list[str]) -> str:
        padded = (
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(row, widths, numeric, strict=True)
        )
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if num else ("-" * (w + 2))
            for w, num in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    return "\n".join([line(columns), rule, *(line(row) for row in rows)])


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "").rstrip("×"))
    except ValueError:
        return False
    return True
