"""CLI verbs of shared serving: ``serve`` (llama.cpp's server, or llama-cpp-python's, for a
released GGUF) and ``endpoints`` (the remote servers drafting can use).

    scriptorium serve -w W [MODEL | --release N] [--host 0.0.0.0] [--port P] [--background]
                      [--engine auto|llama-server|llama-cpp-python] [--parallel N]
    scriptorium serve -w W --status | --stop
    scriptorium endpoints list | add NAME URL [--token T] | remove NAME | test NAME
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from core.cli.common import add_common, open_workspace
from core.cli.output import print_json, table
from core.endpoints import TOKEN_ENV
from core.serving.engines import DEFAULT_PARALLEL


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser(
        "serve", help="publish a GGUF (default: the deployed release) on an OpenAI-compatible "
        "server (llama.cpp's, several users at once), with a token")
    add_common(serve)
    serve.add_argument("model", metavar="MODEL", nargs="?",
                       help="GGUF model id or .gguf path (default: the deployed release)")
    serve.add_argument("--release", type=int, metavar="N", help="serve release N instead")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (0.0.0.0: the local network)")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--token", help="the token clients must send (default: "
                       f"${TOKEN_ENV}, else generated; a command line shows in `ps`)")
    serve.add_argument("--token-file", metavar="FILE",
                       help="read the token from FILE's first line instead")
    serve.add_argument("--no-token", action="store_true",
                       help="no token (refused unless the host is a loopback address)")
    serve.add_argument("--n-ctx", type=int, default=2048, help="context window in tokens")
    serve.add_argument("--threads", type=int, help="CPU threads (default: the settings')")
    serve.add_argument("--engine", choices=("auto", "llama-server", "llama-cpp-python"),
                       default="auto", help="the server program (default: llama-server when "
                       "installed: it decodes several requests at once)")
    serve.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, metavar="N",
                       help="requests decoded together, each with the full --n-ctx "
                       f"(llama-server; default {DEFAULT_PARALLEL})")
    serve.add_argument("--background", action="store_true",
                       help="leave the server running and return (stop it with --stop)")
    serve.add_argument("--status", action="store_true", help="show the running server")
    serve.add_argument("--stop", action="store_true", help="stop the running server")
    serve.set_defaults(handler=cmd_serve)

    endpoints = sub.add_parser("endpoints", help="remote servers that drafting can use")
    endpoints.add_argument("--json", action="store_true", help="machine-readable JSON output")
    endpoints.add_argument("action", choices=("list", "add", "remove", "test"))
    endpoints.add_argument("name", nargs="?", help="the endpoint's name")
    endpoints.add_argument("url", nargs="?", help="http://host:port (add)")
    endpoints.add_argument("--token", help=f"its token (add; default: ${TOKEN_ENV})")
    endpoints.add_argument("--n-ctx", type=int, default=2048,
                           help="the server's context window (add)")
    endpoints.set_defaults(handler=cmd_endpoints)


def remote_model(where: str, token: str | None, n_ctx: int):  # noqa: ANN201
    """A ``RemoteModel`` for a URL or a configured endpoint's name."""
    from core.endpoints import REMOTE_PREFIX
    from core.generation.runtime import ModelCache
    from core.serving.backend import open_text_model

    if "://" not in where and not where.startswith(REMOTE_PREFIX):
        where = REMOTE_PREFIX + where
    return open_text_model(None, where, ModelCache(n_ctx=n_ctx), token=token, n_ctx=n_ctx)


def _announce(plan, background: bool) -> None:  # noqa: ANN001
    from core.serving.engines import ENGINE_LABELS

    at_once = (f", {plan.parallel} requests at once" if plan.parallel > 1
               else ", one request at a time")
    lines = [f"serving {plan.model_name} with {ENGINE_LABELS[plan.engine]}{at_once}"]
    if plan.host in ("0.0.0.0", "::"):
        lines.append("on the local network: " + ", ".join(plan.share_urls()))
    else:
        lines.append(f"at {plan.url}")
    lines.append(f"token: {plan.token}" if plan.token else "no token (loopback only)")
    lines.append(f"log: {plan.log_path}")
    print("\n".join(lines), flush=True)
    if plan.host not in ("127.0.0.1", "localhost", "::1"):
        print("warning: anyone who can reach this port and has the token can use the model; "
              f"open port {plan.port} in the firewall to the analysts' subnet only, and put a "
              "TLS reverse proxy in front (the traffic is not encrypted).", file=sys.stderr)
    if not background:
        print("Ctrl-C stops the server.", file=sys.stderr, flush=True)


def cmd_serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from core.errors import ConfigError, validation_message
    from core.serving.process import start_server
    from core.serving.publish import publish, published, refuse_second, unpublish
    from core.serving.server import ServeConfig, plan_server
    from core.serving.state import clear_state, write_state

    workspace = open_workspace(args)
    if args.stop:
        stopped = unpublish(workspace)
        print(f"stopped the server of {stopped.model} (pid {stopped.pid})" if stopped
              else "no server is running")
        return 0 if stopped else 1
    if args.status:
        running = published(workspace)
        if args.json:
            print_json({"running": running is not None,
                        **(running.model_dump(mode="json") if running else {})})
        elif running is None:
            print("no server is running")
        else:
            print(f"serving {running.model} at {running.url} (pid {running.pid}, host "
                  f"{running.host}; {running.engine}, {running.parallel} at once)\n"
                  f"token: {running.token or '(none)'}\nlog: {running.log}")
        return 0
    try:
        config = ServeConfig(model=args.model, release=args.release, host=args.host,
                             port=args.port, token=_serve_token(args), no_token=args.no_token,
                             n_ctx=args.n_ctx, threads=args.threads, engine=args.engine,
                             parallel=args.parallel)
    except ValidationError as error:  # one line per the CLI's error contract
        raise ConfigError(validation_message(error, "option")) from error
    if args.background:
        plan, _ = publish(workspace, config)
        _announce(plan, background=True)
        return 0
    refuse_second(workspace)
    plan = plan_server(workspace, config)
    server = start_server(plan)
    write_state(workspace, server.state())
    workspace.audit.record("serving.start", model=plan.model_name, host=plan.host,
                           port=plan.port, pid=server.pid)
    _announce(plan, background=False)
    stops = [s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {sig: signal.signal(sig, _interrupt) for sig in stops}
    try:
        code = server.process.wait()
        print(f"the server stopped (exit code {code}); see {plan.log_path}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM/SIGHUP on this process: stop the server
        print("stopping", file=sys.stderr)
        return 0
    finally:
        for sig in stops:  # a second signal must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        server.stop()
        clear_state(workspace, server.pid)
        workspace.audit.record("serving.stop", model=plan.model_name, port=plan.port)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt(signum: int, _frame: object) -> None:
    """SIGTERM and SIGHUP stop a foreground server as Ctrl-C does (the server runs in its
    own session, so without this it would outlive its command)."""
    raise KeyboardInterrupt


def _serve_token(args: argparse.Namespace) -> str | None:
    """--token, else the first line of --token-file, else $SCRIPTORIUM_ENDPOINT_TOKEN, else
    None (one is generated)."""
    from core.errors import ConfigError

    if args.token is not None:
        return args.token
    if args.token_file:
        try:
            lines = Path(args.token_file).expanduser().read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"Cannot read the token file {args.token_file}: {error}") from error
        if not lines or not lines[0].strip():
            raise ConfigError(f"The token file {args.token_file} is empty.")
        return lines[0].strip()
    return os.environ.get(TOKEN_ENV) or None


def cmd_endpoints(args: argparse.Namespace) -> int:
    from core.endpoints import (
        RemoteEndpoint,
        find_endpoint,
        with_endpoint,
        without_endpoint,
    )
    from core.errors import ConfigError
    from core.serving.client import RemoteModel
    from core.settings import load_settings, save_settings

    settings = load_settings()
    endpoints = settings.remote_endpoints
    if args.action == "list":
        if args.json:
            print_json([{"name": e.name, "url": e.url, "n_ctx": e.n_ctx} for e in endpoints])
        else:
            print(table([(e.name, e.url, e.n_ctx, "yes" if e.token else "no")
                         for e in endpoints], ("name", "url", "n_ctx", "token")))
        return 0
    if not args.name:
        raise ConfigError(f"`endpoints {args.action}` needs a NAME.")
    if args.action == "add":
        if not args.url:
            raise ConfigError("`endpoints add` needs a NAME and a URL.")
        token = args.token if args.token is not None else os.environ.get(TOKEN_ENV, "")
        try:
            endpoint = RemoteEndpoint(name=args.name, url=args.url, token=token,
                                      n_ctx=args.n_ctx)
        except ValueError as error:
            raise ConfigError(f"Bad endpoint: {error}") from error
        save_settings(settings.model_copy(update={
            "remote_endpoints": with_endpoint(endpoints, endpoint, replacing=args.name)}))
        print(f"saved endpoint {endpoint.name} ({endpoint.url})")
        return 0
    endpoint = find_endpoint(endpoints, args.name)
    if args.action == "remove":
        save_settings(settings.model_copy(update={
            "remote_endpoints": without_endpoint(endpoints, endpoint.name)}))
        print(f"removed endpoint {endpoint.name}")
        return 0
    print(RemoteModel(endpoint).check())
    return 0
