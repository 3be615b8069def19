"""What a base model a user brings can go through, checked before anything is copied.

``inspect_base`` reads only headers and small files (config, tokenizer config, safetensors
and GGUF headers), so a multi-GB folder is checked in seconds. It reports, in plain
words: the architecture and which stages take it (training with PEFT, merging with
mergekit, export with llama.cpp's converter, running in this llama.cpp build), the size
and dtype, disk needed, memory to train here (LoRA on the CPU; LoRA and QLoRA per GPU when
one is visible), whether a chat template and a licence file come with it. Pickle-only
weights and models transformers cannot build are refused with the reason.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.errors import ModelError
from core.models.info import count_safetensors_parameters, refuse_pickle_weights
from core.models.resolve import folder_chat_template, gguf_chat_template
from core.system.hardware import Hardware, detect_hardware

Stage = Literal["training", "merge", "export", "llama.cpp"]
STAGE_NAMES: dict[Stage, str] = {"training": "LoRA training", "merge": "merging (mergekit)",
                                 "export": "GGUF export", "llama.cpp": "drafting (llama.cpp)"}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")
LICENCE_PREFIXES = ("license", "licence", "use_policy", "notice")
# what is taken from a model folder: weights, configs, tokenizer files, templates, docs
TAKEN_SUFFIXES = (".json", ".safetensors", ".model", ".txt", ".jinja", ".md")


def model_files(folder: Path) -> list[Path]:
    """The files of ``folder`` an import takes (no pickle weights, no code, no sub-folders)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and (
        p.suffix.lower() in TAKEN_SUFFIXES or p.name.lower().startswith(LICENCE_PREFIXES)))
# bytes per parameter by the dtype a folder's config names
_DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class Support:
    stage: Stage
    ok: bool
    detail: str


@dataclass(frozen=True)
class Memory:
    where: str  # "CPU RAM" or a GPU's name
    method: str  # "LoRA" or "QLoRA"
    needed: int
    available: int

    @property
    def fits(self) -> bool:
        return self.needed <= self.available * 0.9


@dataclass(frozen=True)
class BaseCheck:
    path: Path
    source: Literal["folder", "gguf"]
    architecture: str  # the transformers class, e.g. LlamaForCausalLM
    model_type: str  # e.g. llama
    parameters: int
    dtype: str
    size_bytes: int  # what is copied
    disk_needed: int  # what is written (a GGUF is also de-quantised for training)
    chat_template: bool
    licence: str | None
    support: tuple[Support, ...] = ()
    memory: tuple[Memory, ...] = ()
    refusals: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.refusals

    def supports(self, stage: Stage) -> Support | None:
        return next((s for s in self.support if s.stage == stage), None)

    def lines(self) -> list[str]:
        """The check in plain words, one fact a line."""
        size = f"{self.size_bytes / 2**30:.2f} GiB" if self.size_bytes else "unknown size"
        count = (f"{self.parameters / 1e9:.2f}B" if self.parameters >= 1e9 else
                 f"{self.parameters / 1e6:.1f}M")
        out = [f"{self.path.name}: {self.architecture} ({self.model_type}), "
               f"{count} parameters, {self.dtype}, {size}",
               f"disk needed: {self.disk_needed / 2**30:.2f} GiB in the machine's model store "
               "(workspaces link to it)"]
        out += [f"{'ok' if s.ok else 'NO'}  {STAGE_NAMES[s.stage]}: {s.detail}"
                for s in self.support]
        out += [f"{'ok' if m.fits else 'too big'}  training memory, {m.method} on "
                f"{m.where}: about {m.needed / 2**30:.1f} GiB of {m.available / 2**30:.1f} GiB"
                for m in self.memory]
        out.append("chat template: " + ("included" if self.chat_template else
                                        "none (it is treated as a base model: drafts use "
                                        "document prompts)"))
        out.append(f"licence: {self.licence}" if self.licence else
                   "licence: no licence file found; check the model's terms before use")
        out += [f"note: {n}" for n in self.notes]
        out += [f"REFUSED: {r}" for r in self.refusals]
        return out


def _licence(folder: Path) -> str | None:
    names = sorted(p.name for p in folder.iterdir() if p.is_file()
                   and p.name.lower().startswith(LICENCE_PREFIXES))
    return ", ".join(names) or None


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    if not path.is_file():
        raise ModelError(f"{folder} has no config.json: it is not a Hugging Face model folder.",
                         hint="choose the folder that holds config.json and the .safetensors "
                              "files, or a .gguf file")
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, OSError) as error:
        raise ModelError(f"{path} cannot be read: {error}") from error


@cache
def _llama_cpp_library() -> bytes | None:
    """The llama.cpp library's bytes (its architecture names are NUL-ended strings)."""
    try:
        import llama_cpp
    except ImportError:
        return None
    for path in sorted((Path(llama_cpp.__file__).parent / "lib").glob("libllama*")):
        if path.is_file() and not path.is_symlink():
            return path.read_bytes()
    return None


def llama_cpp_knows(gguf_arch: str) -> bool | None:
    """Whether this llama.cpp build names ``gguf_arch`` (None: the library was not found)."""
    library = _llama_cpp_library()
    return None if library is None else gguf_arch.encode() + b"\x00" in library


def _training_support(config: dict[str, Any]) -> Support:
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    model_type = str(config.get("model_type", ""))
    architecture = (config.get("architectures") or ["?"])[0]
    if model_type not in CONFIG_MAPPING:
        return Support("training", False, f"this transformers ({transformers.__version__}) "
                       f"does not know {model_type or 'its'} models")
    if not hasattr(transformers, architecture):
        return Support("training", False, f"transformers has no {architecture} class "
                       "(models that need their own code are not loaded: it could run "
                       "anything)")
    return Support("training", True, f"transformers {architecture}, LoRA on every linear "
                   "layer")


def _merge_support(folder: Path) -> Support:
    from mergekit.architecture import arch_info_for_config
    from transformers import AutoConfig

    try:
        info = arch_info_for_config(AutoConfig.from_pretrained(str(folder)))
    except Exception as error:  # noqa: BLE001 - mergekit/transformers raise many kinds
        return Support("merge", False, f"mergekit cannot read it ({error})")
    if info is None:
        return Support("merge", False, "mergekit has no definition of this architecture")
    return Support("merge", True, "mergekit knows this architecture")


def _export_support(folder: Path) -> tuple[Support, Support]:
    import gguf
    from conversion import ModelBase, ModelType, get_model_architecture, get_model_class

    try:
        hparams = ModelBase.load_hparams(folder, False)
        architecture = get_model_architecture(hparams, ModelType.TEXT)
        model_class = get_model_class(architecture, mmproj=False)
    except NotImplementedError:
        no = "llama.cpp's converter does not support this architecture"
        return Support("export", False, no), Support("llama.cpp", False, no)
    except Exception as error:  # noqa: BLE001
        no = f"llama.cpp's converter cannot read it ({error})"
        return Support("export", False, no), Support("llama.cpp", False, no)
    name = gguf.MODEL_ARCH_NAMES[model_class.model_arch]
    return _vocabulary_support(model_class, folder, name), _runtime_support(name)


def _vocabulary_support(model_class: Any, folder: Path, name: str) -> Support:
    """Whether the converter can write this folder's tokenizer: its vocabulary step is run
    for real (it reads only the tokenizer files; nothing is written)."""
    import logging
    import tempfile

    import gguf

    logging.getLogger("hf-to-gguf").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as scratch:
        try:
            probe = model_class(folder, gguf.LlamaFileType.MOSTLY_F16,
                                Path(scratch) / "probe.gguf", dry_run=True, model_name="probe")
            probe.set_vocab()
        except NotImplementedError as error:
            if "pre-tokenizer" in str(error):
                return Support("export", True, f"converted as a '{name}' GGUF once its "
                               "tokenizer type is chosen in Export (gpt-2 or llama-bpe): "
                               "llama.cpp does not recognise it by itself")
            return Support("export", False, f"the converter cannot write its tokenizer "
                           f"({error})")
        except Exception as error:  # noqa: BLE001 - the converter raises many kinds
            why = str(error) or type(error).__name__
            return Support("export", False, f"the converter cannot write its tokenizer "
                           f"({why})")
    return Support("export", True, f"converted as a '{name}' GGUF")


def _runtime_support(gguf_arch: str) -> Support:
    known = llama_cpp_knows(gguf_arch)
    if known is None:
        return Support("llama.cpp", False, "llama-cpp-python is not installed")
    if not known:
        return Support("llama.cpp", False, f"this llama.cpp build does not know '{gguf_arch}' "
                       "models")
    return Support("llama.cpp", True, f"this llama.cpp build runs '{gguf_arch}' models")


def _memory(parameters: int, shape: dict[str, Any], hardware: Hardware) -> tuple[Memory, ...]:
    from core.training.config import TrainConfig
    from core.training.estimate import ModelShape, estimate

    text = shape.get("text_config") or shape
    hidden = int(text.get("hidden_size") or 0)
    model_shape = ModelShape(parameters, hidden or 640, int(text.get("num_hidden_layers") or 1),
                             int(text.get("intermediate_size") or 4 * (hidden or 640)),
                             int(text.get("vocab_size") or 32_000))
    plain = TrainConfig(recipe="cpt", base="-", dataset="-", device="cpu",
                        gradient_checkpointing=True, batch_size=1)
    out = [Memory("CPU RAM", "LoRA", estimate(plain, hardware, model_shape).memory_bytes,
                  hardware.memory_bytes)]
    for gpu in hardware.gpus:
        for method, four_bit in (("LoRA", False), ("QLoRA", True)):
            config = plain.model_copy(update={"device": "cuda", "quantize_4bit": four_bit})
            out.append(Memory(gpu.name, method, estimate(config, hardware,
                                                         model_shape).memory_bytes,
                              gpu.memory_bytes))
    return tuple(out)


def _check_folder(folder: Path, hardware: Hardware) -> BaseCheck:
    config = _read_config(folder)
    refusals = []
    try:
        refuse_pickle_weights(folder)
    except ModelError as error:
        refusals.append(error.message)
    weights = sorted(folder.glob("*.safetensors"))
    if not weights and not refusals:
        refusals.append(f"{folder.name} has no .safetensors weights.")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        refusals.append(f"{folder.name} has no tokenizer (tokenizer.json or tokenizer.model).")
    try:
        parameters = count_safetensors_parameters(folder)
    except Exception as error:  # noqa: BLE001 - a damaged header
        parameters = 0
        refusals.append(f"its safetensors files cannot be read ({error}).")
    text = config.get("text_config") or {}
    dtype = str(config.get("torch_dtype") or config.get("dtype") or text.get("torch_dtype")
                or "float32")
    training = _training_support(config)
    if not training.ok:
        refusals.append(f"it cannot be trained here: {training.detail}.")
    support = [training, _merge_support(folder), *_export_support(folder)]
    size = sum(p.stat().st_size for p in model_files(folder))  # what the import copies
    return BaseCheck(
        path=folder, source="folder", architecture=(config.get("architectures") or ["?"])[0],
        model_type=str(config.get("model_type", "?")), parameters=parameters, dtype=dtype,
        size_bytes=size, disk_needed=size, chat_template=folder_chat_template(folder) is not None,
        licence=_licence(folder), support=tuple(support),
        memory=_memory(parameters, config, hardware) if parameters else (),
        refusals=tuple(refusals))


def _file_type(value: object) -> str:
    import gguf

    try:
        return gguf.LlamaFileType(int(value)).name.removeprefix("MOSTLY_")  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return "GGUF"


def _check_gguf(path: Path, hardware: Hardware) -> BaseCheck:
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    from core.models.gguf_header import read_header

    header = read_header(path)
    arch = str(header.values.get("general.architecture") or "unknown")
    dequantised = header.parameters * 4  # float32, as training on the CPU reads it
    refusals = []
    if arch not in GGUF_SUPPORTED_ARCHITECTURES:
        refusals.append(f"transformers cannot de-quantise '{arch}' GGUF files for training; "
                        "bring the model's safetensors folder instead.")
    number = lambda key: header.values.get(f"{arch}.{key}") or 0  # noqa: E731
    shape = {"hidden_size": number("embedding_length"), "num_hidden_layers": number("block_count"),
             "intermediate_size": number("feed_forward_length"),
             "vocab_size": header.array_lengths.get("tokenizer.ggml.tokens", 0)}
    training = Support("training", not refusals, "de-quantised to float32 safetensors, then "
                       "LoRA" if not refusals else "transformers cannot de-quantise it")
    support = (training,
               Support("merge", not refusals, "on the de-quantised copy (checked again when "
                       "it is imported)"),
               Support("export", not refusals, "the de-quantised copy is converted back"),
               _runtime_support(arch))
    return BaseCheck(
        path=path, source="gguf", architecture=arch, model_type=arch,
        parameters=header.parameters, dtype=_file_type(header.values.get("general.file_type")),
        size_bytes=path.stat().st_size, disk_needed=path.stat().st_size + dequantised,
        chat_template=gguf_chat_template(path) is not None,
        licence=str(header.values.get("general.license") or "") or None,
        support=support, memory=_memory(header.parameters, shape, hardware),
        refusals=tuple(refusals),
        notes=() if _file_type(header.values.get("general.file_type")) in ("ALL_F32", "F16",
                                                                           "BF16") else
        ("a quantised GGUF is de-quantised for training: the result is only as good as the "
         "quantisation",))


def inspect_base(path: Path, hardware: Hardware | None = None) -> BaseCheck:
    """The checks of a model folder or GGUF file (headers only); raises ``ModelError`` when
    ``path`` is neither."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelError(f"{path} does not exist.")
    hardware = hardware or detect_hardware()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelError(f"{path.name} is neither a model folder nor a .gguf file.",
                             hint="choose the folder that holds config.json, or a .gguf file")
        return _check_gguf(path, hardware)
    return _check_folder(path, hardware)


def check_to_json(check: BaseCheck) -> dict[str, Any]:
    return {**asdict(check), "path": str(check.path)}


def check_from_json(data: dict[str, Any]) -> BaseCheck:
    fields = {**data, "path": Path(data["path"]),
              "support": tuple(Support(**s) for s in data.get("support", ())),
              "memory": tuple(Memory(**m) for m in data.get("memory", ())),
              "refusals": tuple(data.get("refusals", ())), "notes": tuple(data.get("notes", ()))}
    return BaseCheck(**{k: v for k, v in fields.items() if k in BaseCheck.__dataclass_fields__})


class CheckModelConfig(BaseModel):
    """Config of the ``check-model`` job: the checks in a child process (they import torch,
    transformers, mergekit and the converter, which would stall the app's event loop)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    path: str = Field(min_length=1)


def run_check_job(config: CheckModelConfig, ctx: Any) -> dict[str, Any]:
    ctx.report(0, 1, f"checking {Path(config.path).name}", force=True)
    return check_to_json(inspect_base(Path(config.path)))
