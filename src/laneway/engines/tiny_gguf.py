"""A tiny random-weight llama model as GGUF, written on the spot for tests and benchmarks.

Why: real llama.cpp inference (loading, batching, streaming, metrics) without downloading a
model. The file is well under 1 MB, loads in milliseconds and decodes thousands of tokens a
second; its output is word salad. The vocabulary is a SentencePiece-style one made of the
special tokens, the 256 byte tokens and printable ASCII characters, so any text tokenizes.

Needs the `gguf` package (and numpy), which the `dev` extra installs.
"""

from __future__ import annotations

from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] "
    "+ '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% endif %}"
)


def write_tiny_llama_gguf(path: Path, *, seed: int = 0, embedding_length: int = 64, block_count: int = 2,
                          head_count: int = 4, context_length: int = 2048) -> Path:
    """Write a random-weight llama GGUF to `path` and return `path`."""
    try:
        import gguf
        import numpy as np
    except ImportError as e:
        raise RuntimeError("writing a test GGUF needs the `gguf` package: pip install -e '.[dev]'") from e

    rng = np.random.default_rng(seed)
    tokens: list[bytes] = [b"<unk>", b"<s>", b"</s>", b"<|im_start|>", b"<|im_end|>"]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL,
             gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    for b in range(256):
        tokens.append(f"<0x{b:02X}>".encode())
        types.append(gguf.TokenType.BYTE)
    for c in range(32, 127):
        tokens.append(("\u2581" if chr(c) == " " else chr(c)).encode())
        types.append(gguf.TokenType.NORMAL)
    vocab = len(tokens)
    scores = [0.0] * 5 + [0.0] * 256 + [-float(i) for i in range(vocab - 261)]

    d, ff = embedding_length, embedding_length * 2
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("laneway-tiny-llama")
    w.add_context_length(context_length)
    w.add_embedding_length(d)
    w.add_block_count(block_count)
    w.add_feed_forward_length(ff)
    w.add_head_count(head_count)
    w.add_head_count_kv(head_count)
    w.add_rope_dimension_count(d // head_count)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(4)  # <|im_end|> ends a chat turn
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_chat_template(CHATML_TEMPLATE)

    def tensor(name: str, *shape: int, scale: float = 0.02) -> None:
        w.add_tensor(name, (rng.standard_normal(shape) * scale).astype(np.float32))

    tensor("token_embd.weight", vocab, d)
    w.add_tensor("output_norm.weight", np.ones(d, dtype=np.float32))
    tensor("output.weight", vocab, d)
    for i in range(block_count):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(d, dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(d, dtype=np.float32))
        for t in ("attn_q", "attn_k", "attn_v", "attn_output"):
            tensor(f"blk.{i}.{t}.weight", d, d)
        tensor(f"blk.{i}.ffn_gate.weight", ff, d)
        tensor(f"blk.{i}.ffn_up.weight", ff, d)
        tensor(f"blk.{i}.ffn_down.weight", d, ff)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
