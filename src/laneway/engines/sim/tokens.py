"""Token counting and deterministic output, so the simulator's usage numbers look like a model's.

Counting approximates a BPE tokenizer on English text: each word or punctuation mark is one
token, and long words cost one more token per eight characters. Output text is filler chosen by
a hash of the prompt, so the same request always gets the same answer (tests can compare it)
while different prompts get different answers (caches and routers cannot cheat).
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
from collections.abc import Sequence

_PIECES = re.compile(r"\w+|[^\w\s]")

# Chat templates wrap each message in a few special tokens, and prime the assistant's turn.
CHAT_TOKENS_PER_MESSAGE = 4
CHAT_TOKENS_FOR_REPLY = 3

_VOCABULARY = ["the", "lane", "runs", "through", "a", "quiet", "fleet", "of", "engines", "while", "every", "request", "finds", "its", "way", "to", "one", "model", "that", "answers", "in", "time", "and", "the", "gateway", "keeps", "traffic", "inside", "its", "boundary", "so", "teams", "ask", "for", "capacity", "instead", "of", "clusters", "and", "replicas", "start", "stop", "scale", "and", "recover", "on", "their", "own", "with", "weights", "cached", "once", "per", "cluster"]


def count_tokens(text: str) -> int:
    """Approximate token count of `text` (0 for an empty string)."""
    return sum(1 + (len(piece) - 1) // 8 for piece in _PIECES.findall(text))


def count_chat_tokens(contents: Sequence[str]) -> int:
    """Prompt tokens of a chat: each message's text plus a chat template's overhead."""
    return sum(count_tokens(c) + CHAT_TOKENS_PER_MESSAGE for c in contents) + CHAT_TOKENS_FOR_REPLY


def _digest(*parts: str | bytes) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode())
        h.update(b"\x00")
    return h.digest()


def output_tokens(prompt_key: str, count: int) -> list[str]:
    """`count` output tokens (each a word with its leading space) determined by `prompt_key`."""
    start = int.from_bytes(_digest(prompt_key)[:8], "big")
    words = []
    for i in range(count):
        word = _VOCABULARY[(start + i * 7) % len(_VOCABULARY)]
        words.append(word if i == 0 else " " + word)
    return words


def embedding(text: str, dim: int) -> list[float]:
    """A deterministic unit vector for `text`: equal inputs embed equally, others differ."""
    values: list[float] = []
    block = 0
    while len(values) < dim:
        raw = _digest(text, str(block))
        values.extend((b - 127.5) / 127.5 for b in raw)
        block += 1
    values = values[:dim]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def embedding_base64(vector: Sequence[float]) -> str:
    """The `encoding_format: base64` form OpenAI clients ask for: little-endian float32."""
    import base64

    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
