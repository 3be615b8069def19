"""Export to GGUF (llama.cpp's converter) and quantization (``llama_model_quantize``), each
output loaded back, scored and registered; for a fine-tuned model each file must keep most
of its perplexity gain over the base (``core.export.gain``). The work runs as the ``export``
job."""

from core.export.config import QUANTS, ExportConfig, parse_export_config

__all__ = ["QUANTS", "ExportConfig", "parse_export_config"]
