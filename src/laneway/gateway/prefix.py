"""Prefix blocks of a prompt: the unit both prefix-aware policies and the simulator's KV cache
count in. Pure.

A prompt's canonical text (`request_view.Prompt.text`, where equal leading turns give equal
leading text) is cut into blocks of `BLOCK_CHARS` characters, and each full block gets a chained
hash: block i's hash covers blocks 0..i, so equal hashes mean equal prefixes, the way vLLM's
prefix cache chains each block's hash to its parent's. A partial last block has no hash (vLLM
caches only full blocks either).

Blocks are characters of the prompt as sent, not tokens: the gateway has no tokenizer. 256
characters are about 64 tokens of English (at vLLM's default block of 16 tokens, four of its
blocks). The simulator hashes the same text the same way, standing in for an engine and router
that share a tokenizer; a real vLLM hashes token ids, which the gateway cannot reproduce without
the model's tokenizer (see `docs/gateway.md`).

The hash is CRC-32 and Adler-32 of the prefix side by side (64 bits), because it runs on the hot
path for every request of a prefix-aware service: about a tenth of a millisecond for a 6,000-token
prompt here, a third of what a cryptographic hash costs. It is not collision-resistant: a caller
who crafts a collision only moves where their own request is routed (no data is shared through
it), which is the harm a router's hint can do anyway.
"""

from __future__ import annotations

import zlib

BLOCK_CHARS = 256
"""Characters per block (about 64 tokens)."""
MAX_BLOCKS = 256
"""At most this many leading blocks are hashed (64K characters, ~16K tokens): the prefix that
decides routing is the first part of a prompt, and the bound keeps the cost per request fixed."""

BlockHash = int


def block_hashes(text: str, *, block_chars: int = BLOCK_CHARS, max_blocks: int = MAX_BLOCKS) -> tuple[BlockHash, ...]:
    """The chained hash of each full leading block of `text` (at most `max_blocks`)."""
    data = text.encode("utf-8", "surrogatepass")
    end = min(len(data) // block_chars, max_blocks) * block_chars
    out: list[BlockHash] = []
    crc, adler = 0, 1
    view = memoryview(data)
    for start in range(0, end, block_chars):
        block = view[start:start + block_chars]
        crc = zlib.crc32(block, crc)
        adler = zlib.adler32(block, adler)
        out.append((crc << 32) | adler)
    return tuple(out)


def blocks_needed(text_length: int, *, block_chars: int = BLOCK_CHARS) -> int:
    """Blocks a prompt of `text_length` bytes occupies in a KV cache, the partial last one included."""
    return -(-text_length // block_chars)
