"""Export to GGUF (llama.cpp's converter) and quantization (``llama_model_quantize``), each
output loaded back, scored and registered. The work runs as the ``export`` job."""

from core.export.config import QUANTS, ExportConfig, parse_export_config

__all__ = ["QUANTS", "ExportConfig", "parse_export_config"]
