"""Warm parser workers shared by one user's imports: the parser host.

Starting a parser worker costs about a quarter of a second of CPU (the interpreter, PDFium,
lxml, first use), which a small import pays in full, once per worker. The host is a
small per-user process that keeps isolated parsers (``IsolatedParser``: the same worker,
time limit, memory cap and recycling as ever) warm between imports. An import opens one
connection per parser it wants, borrows a warm parser for it (or starts one) and gives it
back when the connection ends. The host starts detached on first use and exits after
``IDLE_S`` with no connection.

Safety: the socket lives in a folder only this user can open (mode 0700, checked before
use); its name carries a fingerprint of this installation's parser code, so an upgraded
app never talks to an old host; on Linux each connection's peer must be this user. The
host parses only what it is sent, with the rights of the user who sent it.

Protocol, one JSON line each way: ``{"limits": {...}}`` → ``{"ready": true}``; then per
file ``{"path", "format", "then"}`` → the worker's own answer line (``{"ok": true, ...}``)
or ``{"ok": false, "error", "message"}``; at the end ``{"bye": true}`` → ``{"bye": true}``
once the parser is back among the warm ones. A connection that closes during a parse
aborts it: a cancelled import stops its workers at once.

``SCRIPTORIUM_PARSER_HOST=0`` turns it off (every import then starts its own workers);
``SCRIPTORIUM_RUNTIME_DIR`` moves the socket folder.

    python -m core.ingest.host SOCKET_PATH   (started by ``core.ingest.hosted``, not by hand)

Imports use it through ``core.ingest.hosted.HostedParser``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

import core
from core.ingest.errors import IngestError
from core.ingest.isolation import _PROJECT_ROOT, IsolatedParser
from core.ingest.limits import IngestLimits

SWITCH_ENV = "SCRIPTORIUM_PARSER_HOST"
RUNTIME_ENV = "SCRIPTORIUM_RUNTIME_DIR"
IDLE_ENV = "SCRIPTORIUM_PARSER_HOST_IDLE_S"
IDLE_S = 600.0  # the host exits after this long with no connection
KEEP_IDLE = 4  # warm parsers kept per set of limits
_MAX_SOCKET_PATH = 100  # sockaddr_un holds 104-108 bytes


# -- where the host lives ----------------------------------------------------------------

def enabled() -> bool:
    """Whether imports use the host: not turned off, and this platform has Unix sockets and
    fork (Windows does not: there each import starts its own workers)."""
    return (
        os.environ.get(SWITCH_ENV, "1").strip().lower() not in {"0", "off", "no", "false"}
        and hasattr(socket, "AF_UNIX")
        and hasattr(os, "fork")
    )


def runtime_candidate() -> Path:
    """Where this user's socket folder is (or would be)."""
    override = os.environ.get(RUNTIME_ENV)
    if override:
        return Path(override)
    if os.environ.get("XDG_RUNTIME_DIR"):
        return Path(os.environ["XDG_RUNTIME_DIR"]) / "scriptorium"
    return Path(tempfile.gettempdir()) / f"scriptorium-{os.getuid()}"


def runtime_dir() -> Path | None:
    """This user's private folder for the socket, created 0700; ``None`` when it exists but
    is not private to this user (then the host is not used)."""
    folder = runtime_candidate()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        facts = folder.lstat()
    except OSError:
        return None
    private = facts.st_uid == os.getuid() and not facts.st_mode & 0o077
    return folder if private and not folder.is_symlink() else None


def code_fingerprint() -> str:
    """What identifies the parser code a host runs: the interpreter, the checkout, the
    version and the size and modification time of each source file of core it loads
    (``core.ingest``, ``core.errors``, ``core.offline``); and the files it
    sees (a process in another mount namespace, or container, gets a host of its own)."""
    try:
        mounts = os.readlink("/proc/self/ns/mnt")
    except OSError:
        mounts = ""
    digest = hashlib.sha256(
        f"{sys.executable}\0{_PROJECT_ROOT}\0{core.__version__}\0{mounts}".encode()
    )
    package = Path(core.__file__).resolve().parent
    sources = [*sorted((package / "ingest").rglob("*.py")),
               *(package / name for name in ("__init__.py", "errors.py", "offline.py"))]
    for source in sources:  # (what the host and its workers import of core)
        facts = source.stat()
        digest.update(f"\0{source.relative_to(package)}:{facts.st_size}:{facts.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def host_address() -> Path | None:
    """The socket this installation's host listens on, or ``None`` (no host here)."""
    if not enabled():
        return None
    folder = runtime_dir()
    if folder is None:
        return None
    address = folder / f"parsers-{code_fingerprint()}.sock"
    return address if len(os.fsencode(address)) <= _MAX_SOCKET_PATH else None


# -- the host ----------------------------------------------------------------------------

def _peer_is_this_user(conn: socket.socket) -> bool:
    if not hasattr(socket, "SO_PEERCRED"):
        return True  # macOS: the private folder is the guard
    credentials = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", credentials)
    return uid == os.getuid()


class Host:
    """Accepts connections on ``address``; each borrows a parser for its life."""

    def __init__(self, address: Path, idle_s: float = IDLE_S) -> None:
        self.address = address
        self.idle_s = idle_s
        self._lock = threading.Lock()
        self._idle: dict[str, list[IsolatedParser]] = {}
        self._connections = 0
        self._last_seen = time.monotonic()
        self._listener: socket.socket | None = None

    def listen(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.address.unlink()  # a stale socket (the lock says no host owns it)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        previous = os.umask(0o177)
        try:
            listener.bind(str(self.address))
        finally:
            os.umask(previous)
        listener.listen(32)
        listener.settimeout(1.0)
        self._listener = listener

    def serve(self) -> None:
        """Serve until idle for ``idle_s``, or until the socket file is taken away."""
        assert self._listener is not None
        inode = self.address.stat().st_ino
        try:
            while True:
                try:
                    conn, _ = self._listener.accept()
                except TimeoutError:
                    with self._lock:
                        idle = not self._connections and (
                            time.monotonic() - self._last_seen > self.idle_s
                        )
                    if idle or not self._still_ours(inode):
                        return
                    continue
                if not _peer_is_this_user(conn):
                    conn.close()
                    continue
                with self._lock:
                    self._connections += 1
                threading.Thread(target=self._serve_connection, args=(conn,),
                                 daemon=True, name="parser-host-connection").start()
        finally:
            self._shut_down(inode)

    def _still_ours(self, inode: int) -> bool:
        try:
            return self.address.stat().st_ino == inode
        except OSError:
            return False

    def _shut_down(self, inode: int) -> None:
        if self._listener is not None:
            self._listener.close()
        if self._still_ours(inode):
            with contextlib.suppress(OSError):
                self.address.unlink()
        with self._lock:
            parsers = [p for kept in self._idle.values() for p in kept]
            self._idle.clear()
        for parser in parsers:
            parser.end_input()
        for parser in parsers:
            parser.reap()

    def _borrow(self, limits: IngestLimits) -> IsolatedParser:
        with self._lock:
            kept = self._idle.get(limits.model_dump_json(), [])
            if kept:
                return kept.pop()
        return IsolatedParser(limits)

    def _give_back(self, parser: IsolatedParser) -> None:
        if parser.idle():
            with self._lock:
                kept = self._idle.setdefault(parser.limits.model_dump_json(), [])
                if len(kept) < KEEP_IDLE:
                    kept.append(parser)
                    return
        parser.abort()  # busy with a file nobody will ask for, or one too many

    def _serve_connection(self, conn: socket.socket) -> None:
        requests: queue.Queue[bytes | None] = queue.Queue()
        parser: IsolatedParser | None = None
        parsing = threading.Event()
        gone = threading.Event()

        def read() -> None:
            """The only reader of the socket; at its end, a parse under way is aborted.
            A client silent for ``idle_s`` between files is let go (not during one)."""
            pending = b""
            try:
                while True:
                    try:
                        chunk = conn.recv(1 << 16)
                    except TimeoutError:
                        if parsing.is_set():
                            continue
                        break
                    if not chunk:
                        break
                    *lines, pending = (pending + chunk).split(b"\n")
                    for line in lines:
                        requests.put(line)
            except OSError:
                pass
            gone.set()
            requests.put(None)
            if parsing.is_set() and parser is not None:
                parser.abort()

        try:
            conn.settimeout(self.idle_s)  # a client silent that long is let go
            threading.Thread(target=read, daemon=True, name="parser-host-reader").start()
            hello = requests.get()
            if hello is None:
                return
            limits = IngestLimits.model_validate(json.loads(hello)["limits"])
            parser = self._borrow(limits)
            parser.start()
            conn.sendall(b'{"ready": true}\n')
            while (line := requests.get()) is not None:
                request = json.loads(line)
                if request.get("bye"):
                    self._give_back(parser)
                    parser = None
                    conn.sendall(b'{"bye": true}\n')
                    break
                then = tuple(request["then"]) if request.get("then") else None
                parsing.set()
                try:
                    if gone.is_set():
                        break
                    answer = parser.parse_raw(Path(request["path"]), request["format"],
                                              then)  # type: ignore[arg-type]
                except IngestError as error:
                    answer = (json.dumps({"ok": False, "error": type(error).__name__,
                                          "message": str(error)}) + "\n").encode()
                finally:
                    parsing.clear()
                conn.sendall(answer)
        except Exception as error:  # noqa: BLE001 - one bad client never stops the host
            print(f"parser host: connection ended: {error!r}", file=sys.stderr, flush=True)
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            if parser is not None:
                if gone.is_set() and not parser.idle():
                    parser.abort()
                else:
                    self._give_back(parser)
            with self._lock:
                self._connections -= 1
                self._last_seen = time.monotonic()


def _lock_file(address: Path) -> object | None:
    """Hold this address's lock for the process's life; ``None`` when another host has it."""
    import fcntl

    handle = open(address.with_suffix(".lock"), "a+")  # noqa: SIM115 - held until exit
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _holder(lock: Path) -> int | None:
    """The pid of the host holding ``lock``, or ``None`` (no host holds it)."""
    import fcntl

    try:
        with open(lock) as handle:
            try:  # taken at once: no host holds it, and its pid may be anyone's now
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return None
            except OSError:
                return int(handle.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def describe() -> tuple[bool, str]:
    """Whether the parser host can be used here, and a line saying how it stands (doctor)."""
    if not enabled():
        return True, ("not kept between imports: each import starts its own"
                      + (f" ({SWITCH_ENV}=0)" if os.environ.get(SWITCH_ENV) else ""))
    if runtime_dir() is None:
        return False, (f"{runtime_candidate()} is not a folder private to you, so readers "
                       "are not kept between imports: each import starts its own")
    address = host_address()
    if address is None:
        return False, f"the socket path under {runtime_candidate()} is too long"
    pid = _holder(address.with_suffix(".lock"))
    if pid is None:
        return True, "none running (they start with the next import or preview)"
    import psutil

    try:
        warm = [c for c in psutil.Process(pid).children() if c.status() != psutil.STATUS_ZOMBIE]
    except psutil.Error:
        warm = []
    return True, (f"{len(warm)} kept ready between imports (parser host, process {pid}); "
                  f"they stop after {float(os.environ.get(IDLE_ENV) or IDLE_S) / 60:g} min "
                  "without imports")


def stop_hosts(folder: Path | None = None) -> int:
    """Stop every parser host whose socket is in ``folder`` (default: this user's runtime
    folder); returns how many were told to stop. (Tests; an uninstall.)"""
    stopped = 0
    for pid in running_hosts(folder):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
            stopped += 1
    return stopped


def running_hosts(folder: Path | None = None) -> list[int]:
    """The pids of the parser hosts whose socket is in ``folder`` (default: this user's
    runtime folder)."""
    folder = folder or runtime_dir()
    pids = [_holder(lock) for lock in sorted(folder.glob("parsers-*.lock"))] if folder else []
    return [pid for pid in pids if pid is not None]


def main(argv: list[str]) -> int:
    """Fork: the child serves, the parent exits once it listens (so that the caller
    returns then, and the host is nobody's child)."""
    address = Path(argv[1])
    readable, writable = os.pipe()
    if os.fork():
        os.close(writable)
        with os.fdopen(readable, "rb") as status:
            return 0 if status.read(1) == b"1" else 1
    os.close(readable)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # the workers end at their EOF
    lock = _lock_file(address)
    if lock is None:
        os.write(writable, b"1")  # another host serves this address
        return 0
    try:
        host = Host(address, float(os.environ.get(IDLE_ENV) or IDLE_S))
        host.listen()
    except OSError as error:
        print(f"parser host: cannot listen on {address}: {error}", file=sys.stderr)
        os.write(writable, b"0")
        return 1
    os.write(writable, b"1")
    os.close(writable)
    host.serve()
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stderr.flush()
    os._exit(code)
