import base64
import math
import struct

from laneway.engines.sim.tokens import (
    CHAT_TOKENS_FOR_REPLY,
    CHAT_TOKENS_PER_MESSAGE,
    count_chat_tokens,
    count_tokens,
    embedding,
    embedding_base64,
    output_tokens,
)


def test_count_tokens_counts_words_and_punctuation():
    assert count_tokens("") == 0
    assert count_tokens("hello world") == 2
    assert count_tokens("hello, world!") == 4


def test_long_words_cost_more_tokens():
    assert count_tokens("a" * 8) == 1
    assert count_tokens("a" * 9) == 2
    assert count_tokens("a" * 17) == 3


def test_chat_tokens_add_template_overhead():
    assert count_chat_tokens(["hi", "there you"]) == 3 + 2 * CHAT_TOKENS_PER_MESSAGE + CHAT_TOKENS_FOR_REPLY


def test_output_is_deterministic_and_depends_on_prompt():
    a = output_tokens("prompt one", 20)
    assert a == output_tokens("prompt one", 20)
    assert a != output_tokens("prompt two", 20)
    assert len(a) == 20
    assert not a[0].startswith(" ") and all(t.startswith(" ") for t in a[1:])
    assert output_tokens("prompt one", 5) == a[:5]


def test_embedding_is_a_deterministic_unit_vector():
    v = embedding("text", 384)
    assert len(v) == 384
    assert math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-9)
    assert v == embedding("text", 384)
    assert v != embedding("other", 384)


def test_embedding_base64_is_little_endian_float32():
    v = [0.5, -0.25, 1.0]
    raw = base64.b64decode(embedding_base64(v))
    assert list(struct.unpack("<3f", raw)) == v
