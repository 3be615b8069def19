"""Bringing your own base model (issue 16, item 1) into the machine's model store (issue 18,
item 4): the checks before any copy, refusals with reasons, one stored copy linked into every
workspace, cancel, GGUF input, and later stages refused up front for an unsupported family."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from core.cli.main import main
from core.errors import ModelError
from core.export.config import ExportConfig
from core.export.job import export_model
from core.jobs.progress import JobCancelled
from core.merging.compat import check_compatible
from core.modelstore.check import inspect_base
from core.modelstore.importer import ImportModelConfig, import_model
from core.modelstore.store import add_files, store_root
from core.workspace import Workspace
from core.workspace.registry import ModelRecord, ModelRegistry


@pytest.fixture(autouse=True)
def model_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCRIPTORIUM_MODEL_STORE", str(tmp_path / "store"))
    return tmp_path / "store"


@pytest.fixture
def brought(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """The tiny model as a user brings it: with a licence and files the import leaves out."""
    folder = tmp_path / "usb" / "Tiny-Gemma-3"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "LICENSE").write_text("Terms of use.\n")
    (folder / "modeling_custom.py").write_text("print('never run')\n")
    (folder / "original").mkdir()
    return folder


@pytest.fixture(scope="module")
def tiny_gguf(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from core.export.convert import convert_to_f16

    out = tmp_path_factory.mktemp("gguf") / "tiny-gemma3-f16.gguf"
    return convert_to_f16(tiny_model_dir, out, name="tiny", pre_tokenizer="gpt-2")


def _stored() -> list[Path]:
    return sorted(p for p in store_root().iterdir() if p.is_dir())


def test_the_checks_say_what_each_stage_can_do(brought: Path) -> None:
    check = inspect_base(brought)
    assert check.ok and check.source == "folder"
    assert check.architecture == "Gemma3ForCausalLM" and check.parameters > 0
    assert {s.stage: s.ok for s in check.support} == {
        "training": True, "merge": True, "export": True, "llama.cpp": True}
    assert check.licence == "LICENSE" and check.chat_template
    assert check.memory[0].where == "CPU RAM" and check.memory[0].fits
    text = "\n".join(check.lines())
    assert "converted as a 'gemma3' GGUF" in text and "licence: LICENSE" in text


def test_disk_needed_counts_only_what_the_import_copies(brought: Path) -> None:
    from core.modelstore.check import model_files

    before = inspect_base(brought).disk_needed
    (brought / "pytorch_model.bin").write_bytes(b"\0" * 2_000_000)  # a pickle copy beside
    (brought / "modeling_custom.py").write_text("x = 1\n" * 50_000)
    check = inspect_base(brought)
    assert check.ok and check.disk_needed == before
    assert check.disk_needed == sum(p.stat().st_size for p in model_files(brought))


def _folder(tmp_path: Path, config: dict, files: dict[str, bytes]) -> Path:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.mark.parametrize(("config", "files", "reason"), [
    ({"model_type": "llama", "architectures": ["LlamaForCausalLM"]},
     {"pytorch_model.bin": b"pickle", "tokenizer.json": b"{}"}, "only pickle weights"),
    ({"model_type": "frobnicator", "architectures": ["FrobForCausalLM"]},
     {"model.safetensors": b"", "tokenizer.json": b"{}"}, "does not know frobnicator"),
    ({"model_type": "llama", "architectures": ["LlamaForCausalLM"]},
     {"model.safetensors": b""}, "has no tokenizer"),
])
def test_what_cannot_be_trained_is_refused_before_any_copy(
        tmp_path: Path, workspace: Workspace, config: dict, files: dict[str, bytes],
        reason: str) -> None:
    folder = _folder(tmp_path, config, files)
    assert any(reason in r for r in inspect_base(folder).refusals)
    with pytest.raises(ModelError, match="cannot be imported"):
        import_model(workspace, ImportModelConfig(path=str(folder)))
    assert _stored() == [] and ModelRegistry(workspace).list() == []


def test_not_a_model_at_all(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelError, match="neither a model folder nor a .gguf file"):
        inspect_base(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        inspect_base(tmp_path / "empty")


def test_one_stored_copy_linked_into_each_workspace(brought: Path, tmp_path: Path) -> None:
    first = Workspace.create(tmp_path / "one")
    second = Workspace.create(tmp_path / "two")
    result = import_model(first, ImportModelConfig(path=str(brought), model_id="tiny"))
    [stored] = _stored()
    assert result["store"] == str(stored)
    assert sorted(p.name for p in stored.iterdir()) == sorted(
        ["LICENSE", "config.json", "generation_config.json", "manifest.json", ".complete",
         "model.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"])
    record = ModelRegistry(first).get("tiny")
    assert record.kind == "base" and record.config["support"]["export"]["ok"]
    weights = ModelRegistry(first).path_of(record) / "model.safetensors"
    assert weights.stat().st_ino == (stored / "model.safetensors").stat().st_ino

    import_model(second, ImportModelConfig(path=str(brought), model_id="tiny"))
    assert _stored() == [stored]  # nothing copied the second time
    shutil.rmtree(first.root)  # removing a workspace never breaks another
    assert ModelRegistry(second).verify("tiny") == []
    with pytest.raises(ModelError, match="already has a model 'tiny'"):
        import_model(second, ImportModelConfig(path=str(brought), model_id="tiny"))


def test_a_cancelled_copy_leaves_nothing(tmp_path: Path) -> None:
    big = tmp_path / "model.safetensors"
    big.write_bytes(b"\0" * (20 << 20))  # three copy chunks
    calls = []

    def check() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise JobCancelled("The job was cancelled.")

    with pytest.raises(JobCancelled):
        add_files([big], check=check)
    assert list(store_root().iterdir()) == []


@pytest.mark.parametrize("kernel", ["copy_file_range", "refused", "absent"])
def test_the_stored_copy_and_its_checksum_match_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel: str) -> None:
    """The kernel copies where it can; where it refuses (another filesystem, an old
    kernel) or has no such call, Python copies; the checksum is of the bytes stored."""
    import errno
    import hashlib

    data = os.urandom(3 << 20) * 30  # 90 MiB: two kernel blocks, many Python ones
    source = tmp_path / "model.safetensors"
    source.write_bytes(data)
    if kernel == "refused":
        def refuse(*args: object) -> int:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        monkeypatch.setattr(os, "copy_file_range", refuse)
    elif kernel == "absent":
        monkeypatch.delattr(os, "copy_file_range")
    seen: list[int] = []
    folder = add_files([source], progress=lambda done, total, name: seen.append(done))
    stored = folder / "model.safetensors"
    assert stored.read_bytes() == data
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest == {"model.safetensors": hashlib.sha256(data).hexdigest()}
    assert seen[-1] == len(data) and len(seen) >= 2  # progress within the file


def test_a_gguf_is_stored_dequantised_and_registered_with_its_file(
        tiny_gguf: Path, workspace: Workspace) -> None:
    check = inspect_base(tiny_gguf)
    assert check.source == "gguf" and check.ok and check.notes == ()
    result = import_model(workspace, ImportModelConfig(path=str(tiny_gguf), model_id="g"))
    registry = ModelRegistry(workspace)
    base, gguf = registry.get("g"), registry.get("g-gguf")
    assert base.format == "safetensors" and base.config["support"]["training"]["ok"]
    assert gguf.kind == "gguf" and gguf.parents == ("g",)
    assert result["gguf_id"] == "g-gguf"
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(registry.path_of(base)))
    assert sum(p.numel() for p in model.parameters()) == base.parameters


def _unsupported(workspace: Workspace, stage: str) -> None:
    record = ModelRecord(id="odd-base", name="odd", kind="base", architecture="OddForCausalLM",
                         config={"support": {stage: {"ok": False, "detail": "no converter"}}})
    with ModelRegistry(workspace).create("odd-base", lambda _: record) as folder:
        (folder / "config.json").write_text("{}")
    adapter = ModelRecord(id="odd-sft", name="a", kind="adapter", architecture="Odd",
                          parents=("odd-base",))
    with ModelRegistry(workspace).create("odd-sft", lambda _: adapter) as folder:
        (folder / "adapter_config.json").write_text("{}")


def test_later_stages_refuse_an_unsupported_family_up_front(workspace: Workspace) -> None:
    _unsupported(workspace, "export")
    with pytest.raises(ModelError, match="odd-sft cannot be exported to GGUF: its base "
                                         "odd-base .* no converter"):
        export_model(workspace, ExportConfig(model="odd-sft"))


def test_merge_refuses_an_unmergeable_family(workspace: Workspace) -> None:
    _unsupported(workspace, "merge")
    registry = ModelRegistry(workspace)
    problems = check_compatible([registry.get("odd-sft")], registry)
    assert any("cannot be merged" in p and "no converter" in p for p in problems)


def test_cli_check_and_import(brought: Path, workspace: Workspace,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "check", str(brought)]) == 0
    assert "ok  GGUF export" in capsys.readouterr().out
    bad = brought.parent / "bad"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (bad / "pytorch_model.bin").write_bytes(b"x")
    assert main(["models", "check", str(bad)]) == 1
    assert "REFUSED" in capsys.readouterr().out
    assert main(["models", "import-base", str(brought), "--id", "mine", "-w",
                 str(workspace.root)]) == 0
    out = capsys.readouterr().out
    assert "id: mine" in out and "kind: base" in out


@pytest.mark.slow
def test_a_1b_folder_is_checked_in_seconds_and_copied_at_disk_speed(tmp_path: Path) -> None:
    """A Llama-3.2-1B-shaped folder of random bf16 weights (about 2.5 GB, made and removed
    here): the checks read headers only; the copy runs near a plain file copy's speed."""
    import time

    import torch
    from helpers.tiny_model import build_tokenizer
    from safetensors.torch import save_file

    folder = tmp_path / "Llama-1B"
    folder.mkdir()
    hidden, layers, inter, vocab = 2048, 16, 8192, 128_256
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
              "hidden_size": hidden, "intermediate_size": inter, "num_hidden_layers": layers,
              "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": vocab,
              "torch_dtype": "bfloat16", "tie_word_embeddings": True}
    (folder / "config.json").write_text(json.dumps(config))
    build_tokenizer().save_pretrained(str(folder))
    shapes = {"model.embed_tokens.weight": (vocab, hidden), "model.norm.weight": (hidden,)}
    for n in range(layers):
        prefix = f"model.layers.{n}."
        shapes.update({prefix + "self_attn.q_proj.weight": (hidden, hidden),
                       prefix + "self_attn.k_proj.weight": (512, hidden),
                       prefix + "self_attn.v_proj.weight": (512, hidden),
                       prefix + "self_attn.o_proj.weight": (hidden, hidden),
                       prefix + "mlp.gate_proj.weight": (inter, hidden),
                       prefix + "mlp.up_proj.weight": (inter, hidden),
                       prefix + "mlp.down_proj.weight": (hidden, inter),
                       prefix + "input_layernorm.weight": (hidden,),
                       prefix + "post_attention_layernorm.weight": (hidden,)})
    generator = torch.Generator().manual_seed(0)
    items = list(shapes.items())
    for index, part in enumerate((dict(items[:len(items) // 2]), dict(items[len(items) // 2:])),
                                 1):
        save_file({name: torch.randn(shape, generator=generator, dtype=torch.bfloat16)
                   for name, shape in part.items()},
                  str(folder / f"model-0000{index}-of-00002.safetensors"))

    started = time.perf_counter()
    check = inspect_base(folder)
    checked_s = time.perf_counter() - started
    assert check.ok and 1.2e9 < check.parameters < 1.3e9 and check.dtype == "bfloat16"
    assert checked_s < 10, checked_s

    size = sum(p.stat().st_size for p in folder.iterdir())
    os.sync()  # the weights just written: neither the baseline nor the import writes them

    def plain_copy() -> float:
        """The baseline: a plain copy of the weights, flushed to disk, then removed."""
        started = time.perf_counter()
        for path in folder.glob("*.safetensors"):
            shutil.copyfile(path, tmp_path / path.name)
            with open(tmp_path / path.name, "rb+") as copied:
                os.fsync(copied.fileno())
        seconds = time.perf_counter() - started
        for path in folder.glob("*.safetensors"):
            (tmp_path / path.name).unlink()
        return seconds

    # A virtual disk's write speed changes from minute to minute (burst credits, the host's
    # cache): the baseline is measured just before and just after the import, and the
    # slower of the two is what the import is held to.
    before_s = plain_copy()
    workspace = Workspace.create(tmp_path / "ws")
    started = time.perf_counter()
    import_model(workspace, ImportModelConfig(path=str(folder), model_id="llama-1b"))
    import_s = time.perf_counter() - started
    plain_s = max(before_s, plain_copy())
    print(f"1B folder ({size / 2**30:.1f} GiB): checks {checked_s:.1f} s, plain copy "
          f"{before_s:.1f} s before, {plain_s:.1f} s at worst, import {import_s:.1f} s")
    # the import copies, hashes the stored files (page cache) and checks the folder again
    assert import_s - checked_s < 2 * plain_s + 2, (import_s, checked_s, plain_s)
    assert ModelRegistry(workspace).verify("llama-1b") == []
