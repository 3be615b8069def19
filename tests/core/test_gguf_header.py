"""The GGUF header reader: the same metadata and tensor table as gguf's own reader, fast,
and a clear error for a damaged file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFEndian, GGUFReader, GGUFWriter

from core.errors import ModelError
from core.models.gguf_header import read_header
from core.models.info import gguf_model_facts
from core.models.resolve import gguf_chat_template


def write_gguf(path: Path, endian: GGUFEndian = GGUFEndian.LITTLE) -> Path:
    writer = GGUFWriter(str(path), "llama", endianess=endian)
    writer.add_block_count(2)
    writer.add_embedding_length(8)
    writer.add_chat_template("{{ messages[0]['content'] }}")
    writer.add_token_list([f"tok{i}" for i in range(300)])
    writer.add_token_scores([float(i) for i in range(300)])
    writer.add_array("test.nested", [[1, 2], [3]])
    writer.add_tensor("token_embd.weight", np.ones((300, 8), dtype=np.float32))
    writer.add_tensor("blk.0.attn_q.weight", np.ones((8, 8), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize("endian", [GGUFEndian.LITTLE, GGUFEndian.BIG])
def test_the_header_matches_ggufs_reader(tmp_path: Path, endian: GGUFEndian) -> None:
    path = write_gguf(tmp_path / "tiny.gguf", endian)
    header = read_header(path)
    reader = GGUFReader(str(path))
    assert header.values["general.architecture"] == "llama"
    assert header.values["llama.block_count"] == 2
    assert header.array_lengths["tokenizer.ggml.tokens"] == 300
    assert header.array_lengths["test.nested"] == 2
    assert [(t.name, t.n_elements, t.type) for t in header.tensors] == [
        (t.name, int(t.n_elements), int(t.tensor_type)) for t in reader.tensors]
    facts = gguf_model_facts(path)
    assert (facts.architecture, facts.parameters, facts.vocab_size, facts.hidden_size,
            facts.num_layers) == ("llama", 300 * 8 + 64, 300, 8, 2)
    assert gguf_chat_template(path) == "{{ messages[0]['content'] }}"


def test_a_damaged_or_foreign_file_is_refused_with_a_reason(tmp_path: Path) -> None:
    whole = write_gguf(tmp_path / "tiny.gguf").read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(whole[:900])  # inside the token list
    with pytest.raises(ModelError, match="cut short"):
        read_header(cut)
    other = tmp_path / "model.bin"
    other.write_bytes(b"PK\x03\x04" + bytes(64))
    with pytest.raises(ModelError, match="not a GGUF file"):
        read_header(other)
    huge = bytearray(whole)
    huge[8:16] = (1 << 40).to_bytes(8, "little")  # a tensor count no file has
    (tmp_path / "huge.gguf").write_bytes(bytes(huge))
    with pytest.raises(ModelError, match="damaged"):
        read_header(tmp_path / "huge.gguf")
