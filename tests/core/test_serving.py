"""Shared serving: a server on loopback, the remote client, remote drafts.

The tests with a server run on both engines (llama.cpp's llama-server, which the setup
builds, and llama-cpp-python's); one server per engine (the bundled Q4_K_M GGUF, 2 threads)
serves the module; generations are a few greedy tokens.
"""

from __future__ import annotations

import os
import socket
import stat
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.serving import TOKEN, ensure_loopback, loopback_server

from core.cli.main import main
from core.drafting.draft import SourcesFound, draft, stream_draft
from core.endpoints import RemoteEndpoint, ServingError, with_endpoint
from core.errors import ScriptoriumError
from core.fsutil import link_or_copy
from core.generation.model import Finished, GenerationSettings, Message, Token
from core.generation.plain import plain_prompt, plain_template
from core.generation.runtime import LoadedModel, ModelCache
from core.generation.template import TemplateRenderer
from core.serving.client import RemoteModel, request_body
from core.serving.engines import ENGINES
from core.serving.process import RunningServer, start_server
from core.serving.server import ServeConfig, ServerPlan, plan_server, resolve_model
from core.serving.sse import sse_data, sse_json
from core.serving.transport import TokenRefused
from core.settings import Settings, load_settings, save_settings, settings_path
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry

pytestmark = pytest.mark.timeout(600)
GGUF_ID = "bundled-gguf"
GREEDY = GenerationSettings(temperature=0.0, max_tokens=8, seed=1)


def _register_gguf(workspace: Workspace, model_id: str = GGUF_ID) -> None:
    from core.models.bundled import assemble_gguf

    gguf = assemble_gguf()
    record = ModelRecord(id=model_id, name="Bundled GGUF", kind="gguf", architecture="gemma3",
                         format="gguf")
    with ModelRegistry(workspace).create(model_id, lambda folder: record) as folder:
        link_or_copy(gguf, folder / gguf.name)


class TwoPassages:
    """A knowledge base of two passages (no reference rows)."""

    def search(self, query: str, k: int) -> list:  # noqa: ANN001
        from core.drafting.sources import Source

        return [Source(doc_id="prop-1", title="SOC proposal", section=("3. Staffing",), page=4,
                       text="Four shift teams work 12-hour shifts.", ref_id="c1"),
                Source(doc_id="prop-2", title="Harbour proposal", page=2,
                       text="Analysts acknowledge each alert within 15 minutes.",
                       ref_id="c2")][:k]

    def lookup(self, question: str, k: int = 5) -> list:  # noqa: ANN001
        return []


def require_llama_server() -> None:
    """Skip without llama-server, except in CI, where the setup must have built it."""
    from core.serving.engines import llama_server_binary

    if llama_server_binary() is None:
        message = "llama-server is not installed (installers/build-llama-server.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module", params=ENGINES)
def served(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, RunningServer]]:
    if request.param == "llama-server":
        require_llama_server()
    workspace = Workspace.create(tmp_path_factory.mktemp("serving") / "ws")
    _register_gguf(workspace)
    with loopback_server(workspace, GGUF_ID, engine=request.param, parallel=4) as server:
        assert server.plan.engine == request.param
        yield workspace, server


@pytest.fixture(scope="module")
def remote(served: tuple[Workspace, RunningServer]) -> RemoteModel:
    return RemoteModel(served[1].plan.endpoint("office").model_copy(update={"n_ctx": 1024}))


@pytest.fixture(scope="module")
def local() -> Iterator[LoadedModel]:
    from core.models.bundled import assemble_gguf

    cache = ModelCache(n_ctx=1024, threads=2, gpu=False)
    yield cache.get(None, assemble_gguf())
    cache.close()


# -- pieces without a server ---------------------------------------------------------------
def test_server_sent_events_are_parsed() -> None:
    stream = [b": ping\r\n", b"data: {\"a\": 1}\r\n", b"\r\n", b"data: {\"b\":\n", b"data: 2}\n",
              b"\n", b"data: [DONE]\n", b"\n", b"data: {\"never\": 1}\n", b"\n"]
    assert list(sse_data(stream)) == ['{"a": 1}', '{"b":\n2}']
    with pytest.raises(ServingError, match="stopped with an error: boom"):
        list(sse_json([b'data: {"error": {"message": "boom"}}\n', b"\n"], "here"))
    with pytest.raises(ServingError, match="not JSON"):
        list(sse_json([b"data: <html>\n", b"\n"], "here"))


def test_the_servers_chat_formats_give_the_local_prompts() -> None:
    from core.serving.launch import SandboxedChat

    shapes = [[Message(role="user", content=" The contractor shall ")],
              [Message(role="system", content="Be brief. "), Message(role="user", content="Q")],
              [Message(role="system", content="S"), Message(role="user", content="a"),
               Message(role="assistant", content=" b "), Message(role="user", content="c")]]
    plain = SandboxedChat({"chat_template": plain_template(True), "bos_token": "<bos>",
                           "eos_token": "<eos>"})
    # a model with an embedded template (our fine-tunes): the server renders it as we do
    template = (Path(__file__).resolve().parents[2] / "resources" / "templates"
                / "gemma-turns.jinja").read_text()
    tuned = SandboxedChat({"chat_template": template, "bos_token": "<bos>",
                           "eos_token": "<eos>"})
    local = TemplateRenderer()
    try:
        for messages in shapes:
            dumped = [m.model_dump() for m in messages]
            reply = plain.formatter(messages=dumped)
            assert reply.prompt == "<bos>" + plain_prompt(messages)
            assert reply.added_special and reply.stop == ["<eos>"]  # BOS once, as locally
            ours = local.render_chat(template, dumped, bos_token="<bos>", eos_token="<eos>")
            assert tuned.formatter(messages=dumped).prompt == ours
        no_bos = SandboxedChat({"chat_template": plain_template(False), "bos_token": "<bos>"})
        assert not no_bos.formatter(messages=[m.model_dump() for m in shapes[0]]).added_special
    finally:
        for renderer in (plain.renderer, tuned.renderer, local):
            renderer.close()


LOOPING = ("{% for m in messages %}{% if m['content'] == 'loop' %}"
           "{% for i in range(10**12) %}{% endfor %}{% endif %}{{ m['content'] }}{% endfor %}")


def test_a_looping_template_is_refused_or_fails_one_request_in_seconds(tmp_path: Path) -> None:
    from core.generation.template import TemplateError
    from core.serving.chat_format import GgufChat, server_chat_args
    from core.serving.launch import SandboxedChat

    always = GgufChat(chat_template="{% for i in range(10**12) %}{% endfor %}", bos_token="",
                      eos_token="", add_bos=False)
    started = time.monotonic()
    with pytest.raises(ServingError, match="chat template cannot be served"):
        server_chat_args(always, tmp_path)
    assert time.monotonic() - started < 5
    assert server_chat_args(always.__class__(chat_template=LOOPING, bos_token="", eos_token="",
                                             add_bos=False), tmp_path)[0] == "--sandboxed_chat"
    chat = SandboxedChat({"chat_template": LOOPING})
    try:
        started = time.monotonic()
        with pytest.raises(TemplateError):
            chat.formatter(messages=[{"role": "user", "content": "loop"}])
        assert time.monotonic() - started < 5
        assert chat.formatter(messages=[{"role": "user", "content": "ok"}]).prompt == "ok"
    finally:
        chat.renderer.close()


def test_requests_sample_as_the_local_path_does() -> None:
    settings = GenerationSettings(temperature=0.2, top_k=7, max_tokens=9, seed=3, stop=("##",))
    path, body = request_body([Message(role="user", content="Hi")], settings, "chat")
    assert path == "/chat/completions" and body["messages"] == [{"role": "user",
                                                                 "content": "Hi"}]
    assert (body["top_k"], body["min_p"], body["seed"], body["stop"]) == (7, 0.0, 3, ["##"])
    history = [Message(role="user", content="a"), Message(role="assistant", content="b"),
               Message(role="user", content="c")]
    path, body = request_body(history, settings, "completion")
    assert path == "/completions" and body["prompt"] == plain_prompt(history)
    assert "\nUser:" in body["stop"]


def test_endpoints_are_validated_and_kept_in_private_settings() -> None:
    with pytest.raises(ValueError, match="not an http"):
        RemoteEndpoint(name="x", url="ftp://host:1")
    endpoint = RemoteEndpoint(name=" office ", url="http://10.0.0.5:8765/", token=TOKEN)
    assert endpoint.name == "office" and endpoint.api_base == "http://10.0.0.5:8765/v1"
    assert RemoteEndpoint(name="y", url="https://h/v1").api_base == "https://h/v1"
    endpoints = with_endpoint((), endpoint)
    with pytest.raises(ServingError, match="exists already"):
        with_endpoint(endpoints, endpoint.model_copy(update={"url": "http://other:1"}),
                      replacing="someone-else")
    save_settings(Settings(remote_endpoints=endpoints, threads=3))
    assert stat.S_IMODE(settings_path().stat().st_mode) == 0o600
    assert load_settings().remote_endpoints[0].token == TOKEN
    raw = settings_path().read_text().replace('"http://10.0.0.5:8765"', '"not a url"')
    settings_path().write_text(raw)
    kept = load_settings()  # a damaged endpoint is dropped, the other settings kept
    assert kept.remote_endpoints == () and kept.threads == 3


# -- launching ---------------------------------------------------------------------------------
def test_refuses_the_network_without_a_token_and_weak_tokens(workspace: Workspace) -> None:
    with pytest.raises(ServingError, match="without a token"):
        plan_server(workspace, ServeConfig(model="x.gguf", host="0.0.0.0", no_token=True))
    with pytest.raises(ServingError, match="at least 16"):
        plan_server(workspace, ServeConfig(model="x.gguf", token="short"))
    with pytest.raises(ScriptoriumError, match="No GGUF file"):
        plan_server(workspace, ServeConfig(model="/no/such/model.gguf"))


def test_a_taken_port_is_refused(workspace: Workspace) -> None:
    _register_gguf(workspace)
    ensure_loopback()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(ServingError, match=f"Port {port} on 127.0.0.1 is taken"):
            plan_server(workspace, ServeConfig(model=GGUF_ID, port=port))


def test_serves_the_deployed_release_by_default(workspace: Workspace) -> None:
    from core.workspace.releases import promote

    with pytest.raises(ServingError, match="No release is deployed"):
        resolve_model(workspace, None, None)
    _register_gguf(workspace)
    _register_gguf(workspace, "second-gguf")
    promote(workspace, GGUF_ID, notes="first")
    promote(workspace, "second-gguf", notes="second")
    assert resolve_model(workspace, None, None)[1] == "second-gguf"
    assert resolve_model(workspace, None, 1)[1] == GGUF_ID
    assert resolve_model(workspace, GGUF_ID, None)[1] == GGUF_ID


def test_a_server_that_dies_is_reported_with_its_log(tmp_path: Path) -> None:
    plan = ServerPlan(model_name="m", model_path=tmp_path / "m.gguf", host="127.0.0.1",
                      port=9, token=TOKEN, log_path=tmp_path / "server.log",
                      startup_timeout_s=30,
                      command=[sys.executable, "-c", "print('model file is corrupt'); "
                               "raise SystemExit(3)"])
    with pytest.raises(ServingError, match="exit code 3") as caught:
        start_server(plan)
    assert "model file is corrupt" in str(caught.value)


def test_nothing_listening_gives_a_clear_error() -> None:
    ensure_loopback()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    model = RemoteModel(RemoteEndpoint(name="gone", url=f"http://127.0.0.1:{port}", token=TOKEN))
    with pytest.raises(ServingError, match=r"Nothing answers at .* \(connection refused\)"):
        model.check()
    with pytest.raises(ServingError, match="Nothing answers"):
        list(model.stream([Message(role="user", content="Hi")], GREEDY))


# -- with the loopback server ---------------------------------------------------------------
def test_the_loopback_server_answers_the_remote_client(remote: RemoteModel) -> None:
    assert remote.models() == [GGUF_ID]
    events = list(remote.stream([Message(role="user", content="The contractor shall")],
                                GREEDY))
    tokens = [e for e in events if isinstance(e, Token)]
    final = events[-1]
    assert isinstance(final, Finished) and tokens and len(tokens) <= 8
    assert final.text == "".join(t.text for t in tokens)
    assert final.stats.finish in ("length", "stop") and final.stats.time_to_first_token_s


def test_a_wrong_or_missing_token_is_refused(remote: RemoteModel) -> None:
    for token in ("wrong-token-wrong-token", ""):
        stranger = RemoteModel(remote.endpoint.model_copy(update={"token": token}))
        with pytest.raises(TokenRefused, match="refused the token"):
            stranger.check()
        with pytest.raises(TokenRefused, match="refused the token"):
            list(stranger.stream([Message(role="user", content="Hi")], GREEDY))


def test_a_remote_draft_cites_and_matches_the_local_one(
        served: tuple[Workspace, RunningServer], remote: RemoteModel,
        local: LoadedModel) -> None:
    request = "Describe the staffing of the operations center."
    # the same prompt format on both sides (a remote endpoint is "chat" unless set to
    # completion; the local base model would get a document to continue)
    events = list(stream_draft(remote, request, retriever=TwoPassages(), settings=GREEDY,
                               format="chat"))
    assert isinstance(events[0], SourcesFound) and len(events[0].citations) == 2
    result = events[-1].extra["draft"]  # type: ignore[union-attr]
    assert result.model == "office" and result.citations == events[0].citations
    assert result.text
    if served[1].plan.engine == "llama-cpp-python":  # the local path's own sampler
        assert result.cited_sources()
        assert result.text == draft(local, request, retriever=TwoPassages(), settings=GREEDY,
                                    format="chat").text


def test_the_server_prompts_as_the_local_path_does(remote: RemoteModel,
                                                   local: LoadedModel) -> None:
    """Token for token the same greedy reply as a local draft, for every conversation shape.
    Without a repeat penalty: llama-server also counts the prompt's tokens as repeats (the
    local path counts only the reply's), so with one the first tokens may differ."""
    from core.generation.stream import stream_generate

    plain = GenerationSettings(temperature=0.0, max_tokens=24, repeat_penalty=1.0)
    shapes = [[Message(role="user", content="The contractor shall")],
              [Message(role="system", content="Sources: [1] Four shift teams work 12-hour "
                                              "shifts."),
               Message(role="user", content="Describe the staffing of the center.")],
              [Message(role="system", content="S"), Message(role="user", content="a"),
               Message(role="assistant", content="b"),
               Message(role="user", content="Write about staffing.")]]
    for messages in shapes:
        here = list(stream_generate(local, messages, plain, mode="completion"))[-1]
        there = list(remote.stream(messages, plain, mode="chat"))[-1]
        assert isinstance(here, Finished) and isinstance(there, Finished)
        assert there.text == here.text and here.text.strip()


def test_no_docs_without_the_token_and_replies_name_the_model(
        served: tuple[Workspace, RunningServer]) -> None:
    import json
    import urllib.error
    import urllib.request

    plan = served[1].plan
    root = plan.url.removesuffix("/v1")
    for path in ("/docs", "/redoc", "/openapi.json", "/", "/slots", "/props"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(root + path, timeout=10)
        assert refused.value.code in (401, 404), path  # llama-server asks for the token
    request = urllib.request.Request(
        plan.url + "/chat/completions", method="POST",
        data=json.dumps({"messages": [{"role": "user", "content": "Hello"}],
                         "max_tokens": 2, "temperature": 0}).encode(),
        headers={"Authorization": f"Bearer {plan.token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as reply:
        body = reply.read().decode()
    assert json.loads(body)["model"] == plan.model_name
    assert str(plan.model_path) not in body and plan.model_path.name not in body


def test_concurrent_users_are_decoded_together_not_queued(
        served: tuple[Workspace, RunningServer]) -> None:
    """llama-server with 4 slots: four analysts' requests all get their first token before
    any of them is finished (llama-cpp-python's server would make the last one wait for the
    other three)."""
    server = served[1]
    if server.plan.engine != "llama-server":
        pytest.skip("llama-cpp-python's server answers one request at a time")
    model = RemoteModel(server.plan.endpoint("office"))
    settings = GenerationSettings(temperature=0.0, max_tokens=48)
    gate = threading.Barrier(4)
    firsts: list[float] = []
    ends: list[float] = []
    replies: list[int] = []

    def user(number: int) -> None:
        messages = [Message(role="user", content=f"Proposal {number}: the contractor shall")]
        gate.wait()
        first = None
        for event in model.stream(messages, settings, mode="completion"):
            if isinstance(event, Token) and first is None:
                first = time.monotonic()
                firsts.append(first)
            if isinstance(event, Finished):
                ends.append(time.monotonic())
                replies.append(event.stats.completion_tokens)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert len(firsts) == 4 and len(ends) == 4
    assert min(replies) >= 8  # each got a real reply
    assert max(firsts) < min(ends)  # nobody waited for another's reply to end


def test_a_model_tuned_here_is_drafted_in_one_user_turn_through_the_server(
        served: tuple[Workspace, RunningServer], remote: RemoteModel,
        tmp_path: Path) -> None:
    """A model with Scriptorium's SFT stage in its lineage is prompted as its SFT rows were
    written (one user turn, no system message); its served template says so, and the
    client reads it from llama-server (a base model: no)."""
    from core.drafting.draft import choose_format
    from core.models.resolve import tuned_here
    from core.serving.chat_format import USER_TURN_MARK

    assert remote.tuned_here() is False  # the module's server serves the bundled base
    workspace = served[0]
    sft = ModelRecord(id="sft-adapter", name="SFT", kind="adapter", architecture="gemma3",
                      format="peft", config={"recipe": "sft"}, parents=(GGUF_ID,))
    with ModelRegistry(workspace).create("sft-adapter", lambda folder: sft):
        pass
    from core.models.bundled import assemble_gguf

    gguf = assemble_gguf()
    tuned = ModelRecord(id="tuned-gguf", name="Tuned", kind="gguf", architecture="gemma3",
                        format="gguf", parents=("sft-adapter",))
    with ModelRegistry(workspace).create("tuned-gguf", lambda folder: tuned) as folder:
        link_or_copy(gguf, folder / gguf.name)
    with loopback_server(workspace, "tuned-gguf", engine=served[1].plan.engine) as server:
        template = (workspace.root / "serving").glob("chat-*")
        assert any(USER_TURN_MARK in p.read_text() for p in template)
        model = RemoteModel(server.plan.endpoint("office"))
        if server.plan.engine == "llama-server":  # it shows its template at /props
            assert model.tuned_here()
            assert tuned_here(choose_format(model)[1])
        else:
            assert not model.tuned_here()


def test_stopping_a_remote_stream(remote: RemoteModel) -> None:
    seen: list[object] = []
    long = GenerationSettings(temperature=0.0, max_tokens=400)
    started = time.monotonic()
    for event in remote.stream([Message(role="user", content="Once upon a time")], long,
                               cancelled=lambda: any(isinstance(e, Token) for e in seen)):
        seen.append(event)
    assert isinstance(seen[-1], Finished) and seen[-1].stats.finish == "cancelled"
    assert seen[-1].stats.completion_tokens <= 2 and time.monotonic() - started < 30


def test_cli_serve_in_the_background_draft_through_it_and_stop(
        workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    ensure_loopback()
    _register_gguf(workspace)
    ws = str(workspace.root)
    assert main(["serve", "-w", ws, GGUF_ID, "--port", "0", "--token", TOKEN, "--threads", "2",
                 "--n-ctx", "1024", "--background"]) == 0
    try:
        out = capsys.readouterr().out
        assert f"token: {TOKEN}" in out
        url = next(line.split()[-1] for line in out.splitlines() if line.startswith("at http"))
        assert main(["serve", "-w", ws, "--status"]) == 0
        assert url in capsys.readouterr().out
        assert main(["endpoints", "add", "office", url, "--token", TOKEN]) == 0
        assert main(["endpoints", "test", "office"]) == 0
        assert f"serving {GGUF_ID}" in capsys.readouterr().out
        # four tokens through the server: generated, then failed as too short (exit 3)
        assert main(["draft", "-w", ws, "--endpoint", "office", "--no-retrieval",
                     "--max-tokens", "4", "--temperature", "0", "The contractor shall"]) == 3
        assert main(["draft", "-w", ws, "--endpoint", url, "--token", "wrong-token-12345678",
                     "--no-retrieval", "--max-tokens", "4", "Hi"]) == 1
        assert "refused the token" in capsys.readouterr().err
    finally:
        assert main(["serve", "-w", ws, "--stop"]) == 0
    assert main(["serve", "-w", ws, "--status"]) == 0
    assert "no server is running" in capsys.readouterr().out


def test_the_proposal_job_drafts_through_a_configured_endpoint(
        remote: RemoteModel, workspace: Workspace, tmp_path: Path) -> None:
    from helpers.workspaces import add_text_document

    from core.drafting.job import DraftProposalConfig, run_proposal_job
    from core.drafting.proposal import ProposalStore
    from core.jobs.progress import JobContext

    save_settings(Settings(remote_endpoints=(remote.endpoint,)))
    rfp = add_text_document(workspace, tmp_path / "docs", "rfp.md",
                            "3.1 The contractor shall monitor alerts 24x7.\n"
                            "3.2 Analysts must hold a Secret clearance.", kind="rfp")
    config = DraftProposalConfig(rfp_id=rfp.id, sections=("staffing-plan",), max_tokens=4,
                                 temperature=0.0, retrieval=False, model="endpoint:office")
    job_dir = workspace.runs_dir / "job-remote"
    job_dir.mkdir()
    result = run_proposal_job(config, JobContext(job_dir, sink=lambda _: None))
    section = ProposalStore(workspace).get(result["proposal_id"]).section("staffing-plan")
    # generated through the endpoint; four tokens are no section, so it is marked failed
    assert section.model == "office" and section.prompt_format == "chat"
    assert section.status == "failed" and section.rejected_text and not section.text
    assert result["failed"] == ["staffing-plan"]


@pytest.mark.timeout(240)
def test_a_foreground_server_stops_with_its_command(workspace: Workspace, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """SIGTERM on `serve` stops the server too (issue 21), and the token can come from a file
    so that it never shows in `ps`."""
    import json
    import signal
    import subprocess

    import psutil

    ensure_loopback()
    _register_gguf(workspace)
    ws = str(workspace.root)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "desktop.launcher", "serve", "-w", ws, GGUF_ID,
               "--port", "0", "--token-file", str(token_file), "--threads", "2",
               "--n-ctx", "512"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    try:
        assert process.stdout is not None
        announced = [process.stdout.readline() for _ in range(4)]
        assert f"token: {TOKEN}\n" in announced, announced
        assert TOKEN not in " ".join(psutil.Process(process.pid).cmdline())
        assert main(["serve", "-w", ws, "--status", "--json"]) == 0
        server_pid = json.loads(capsys.readouterr().out)["pid"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        psutil.wait_procs([psutil.Process(server_pid)], timeout=30)
    except psutil.NoSuchProcess:
        pass  # the server was already gone
    finally:
        process.kill()
    assert not psutil.pid_exists(server_pid)
    assert main(["serve", "-w", ws, "--status"]) == 0
    assert "no server is running" in capsys.readouterr().out
