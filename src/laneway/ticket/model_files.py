"""Reading a model's memory facts from its own files, for `laneway ticket check --model-file`.

- A **GGUF** file: its header, through the `gguf` package's reader (memory-mapped; tensor data
  is never read). The weights' size is the exact sum of the tensors' bytes (whatever their
  quantisation), the parameter count the sum of their elements; layers, KV heads, head size
  and context length come from the `<architecture>.*` keys llama.cpp itself reads.
- A HuggingFace **config.json**: its fields are kept as the row's `config` (only those the
  estimate reads, so the ticket stays short) and `ticket.memory` does the arithmetic.

The result is the wire form of the hardware row's `memory` (less what the team declares:
contextLength, concurrency, kvCacheDtype), so the same numbers travel to the server's check
and can be kept in the ticket. Runs on the user's machine, on the user's file: the server
never reads a path from a ticket.

Without `--model-file`, `cached_model_file` looks where the ticket's cache row says the weights
are, on this machine only and never over the network: a `Local` source's path (a `.gguf` file,
or a directory holding `config.json` or one `.gguf`), or a `HuggingFace` source's `config.json`
in the local Hugging Face cache (`huggingface_hub.try_to_load_from_cache`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from laneway.api.kinds.ticket import InferenceTicket, MemoryAnswer

CONFIG_KEYS = (
    "model_type", "architectures", "hidden_size", "n_embd", "d_model", "num_hidden_layers", "n_layer", "num_layers",
    "num_attention_heads", "n_head", "num_key_value_heads", "head_dim", "intermediate_size", "n_inner", "vocab_size",
    "num_local_experts", "num_experts", "n_routed_experts", "moe_intermediate_size", "shared_expert_intermediate_size",
    "n_shared_experts", "tie_word_embeddings", "torch_dtype", "dtype", "quantization_config", "max_position_embeddings",
    "n_positions", "max_sequence_length",
)
GGUF_MAGIC = b"GGUF"
GGUF_SCALAR_BYTES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
"""GGUF value types of fixed size (uint8 ... float64, bool) by type id; 8 is a string, 9 an array."""
GGUF_STRING, GGUF_ARRAY = 8, 9
MAX_GGUF_ARRAY_DEPTH = 4
"""Arrays in arrays; llama.cpp writes one level (token lists), the format allows any."""


class ModelFileError(ValueError):
    """The file is not a model file this reads; the message says what it is and what to give."""


def _gguf_value(reader: Any, key: str) -> int | None:
    field = reader.fields.get(key)
    if field is None:
        return None
    value = field.contents()
    if isinstance(value, list):
        value = max(value) if value else None  # per-layer arrays (some architectures): the largest
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def check_gguf_header(path: Path) -> None:
    """Walk a GGUF file's key-value section without the `gguf` reader, raising ModelFileError
    where it is not one a reader can finish: a count larger than the bytes left could hold, an
    unknown type, arrays nested past `MAX_GGUF_ARRAY_DEPTH`. Why: the reader trusts the counts
    (an array of 2^40 numbers in a 100-byte file loops for hours) and recurses once per nested
    array (a few thousand levels end in a RecursionError), and `ticket check` may read a file the
    ticket's cache row names, written by someone else. Iterative, and skips fixed-size arrays
    whole, so a real file's tokenizer lists take milliseconds."""
    with path.open("rb") as f:
        size = f.seek(0, 2)
        f.seek(4)
        head = f.read(4)
        order: Literal["little", "big"] = "little" if int.from_bytes(head, "little") in (2, 3) else "big"
        if len(head) != 4 or int.from_bytes(head, order) not in (2, 3):
            raise ModelFileError(f"{path}: not a GGUF version this reads (2 or 3)")

        def number(n: int, what: str) -> int:
            data = f.read(n)
            if len(data) != n:
                raise ModelFileError(f"{path}: not a readable GGUF file (it ends inside {what} at byte {f.tell()})")
            return int.from_bytes(data, order)

        def skip(n: int, what: str) -> None:
            if n > size - f.tell():
                raise ModelFileError(f"{path}: not a readable GGUF file ({what} of {n} bytes at byte {f.tell()} runs past "
                                     f"its end at {size})")
            f.seek(n, 1)

        tensors, pairs = number(8, "the tensor count"), number(8, "the key count")
        if tensors * 24 + pairs * 13 > size - f.tell():
            raise ModelFileError(f"{path}: not a readable GGUF file (it claims {tensors} tensors and {pairs} keys, more "
                                 f"than its {size} bytes can hold)")
        for _ in range(pairs):
            skip(number(8, "a key's length"), "a key")
            pending = [(number(4, "a value's type"), 1, 0)]  # (type, values left at this spot, nesting)
            while pending:
                kind, count, depth = pending.pop()
                if kind in GGUF_SCALAR_BYTES:
                    skip(GGUF_SCALAR_BYTES[kind] * count, "an array")
                elif kind == GGUF_STRING:
                    for _ in range(count):
                        skip(number(8, "a string's length"), "a string")
                elif kind == GGUF_ARRAY:
                    if count == 0:
                        continue
                    if depth >= MAX_GGUF_ARRAY_DEPTH:
                        raise ModelFileError(f"{path}: arrays nested more than {MAX_GGUF_ARRAY_DEPTH} deep at byte "
                                             f"{f.tell()}; no model file holds such a header")
                    pending.append((GGUF_ARRAY, count - 1, depth))  # its sibling arrays, after this one's items
                    item = number(4, "an array's type")
                    pending.append((item, number(8, "an array's length"), depth + 1))
                else:
                    raise ModelFileError(f"{path}: not a readable GGUF file (unknown value type {kind} before byte {f.tell()})")


def gguf_memory(path: Path) -> dict[str, object]:
    """The memory facts in a GGUF file's header."""
    try:
        from gguf import GGUFReader
        from gguf.constants import LlamaFileType
    except ImportError as e:  # pragma: no cover - gguf is a dependency
        raise ModelFileError("reading a GGUF header needs the gguf package: pip install gguf") from e
    check_gguf_header(path)
    try:
        reader = GGUFReader(str(path), "r")
    except (ValueError, OSError, IndexError, KeyError) as e:
        raise ModelFileError(f"{path}: not a readable GGUF file ({e})") from None
    arch_field = reader.fields.get("general.architecture")
    arch = str(arch_field.contents()) if arch_field is not None else "llama"
    weights = sum(int(t.n_bytes) for t in reader.tensors)
    parameters = sum(int(t.n_elements) for t in reader.tensors)
    heads = _gguf_value(reader, f"{arch}.attention.head_count")
    embedding = _gguf_value(reader, f"{arch}.embedding_length")
    head_dim = _gguf_value(reader, f"{arch}.attention.key_length") or (embedding // heads if embedding and heads else None)
    out: dict[str, object] = {"weightSize": str(weights), "parameters": parameters}
    file_type = _gguf_value(reader, "general.file_type")
    if file_type is not None:
        try:
            out["dtype"] = LlamaFileType(file_type).name.removeprefix("MOSTLY_")
        except ValueError:
            pass
    for key, value in (
        ("layers", _gguf_value(reader, f"{arch}.block_count")),
        ("kvHeads", _gguf_value(reader, f"{arch}.attention.head_count_kv") or heads),
        ("headDim", head_dim),
        ("maxContextLength", _gguf_value(reader, f"{arch}.context_length")),
    ):
        if value:
            out[key] = value
    return out


def config_memory(path: Path) -> dict[str, object]:
    """The fields of a HuggingFace config.json the estimate reads, as the row's `config`."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{path}: not a readable config.json ({e})") from None
    if not isinstance(doc, dict):
        raise ModelFileError(f"{path}: a config.json holds one JSON object, this holds {type(doc).__name__}")
    text = doc.get("text_config")
    if isinstance(text, dict) and "hidden_size" not in doc:  # a multimodal model: its language model's shape
        doc = {**text, **{k: v for k, v in doc.items() if k in ("torch_dtype", "dtype", "quantization_config")}}
    return {"config": {k: doc[k] for k in CONFIG_KEYS if k in doc}}


def model_file_memory(path: Path) -> dict[str, object]:
    """The hardware row's memory facts from a `.gguf` or a `config.json` (told apart by content)."""
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ModelFileError(f"--model-file {path}: {e.strerror or e}") from None
    if magic == GGUF_MAGIC:
        return gguf_memory(path)
    if path.suffix.lower() == ".gguf":
        raise ModelFileError(f"{path}: named .gguf but its first bytes are not GGUF's magic; is the download complete?")
    return config_memory(path)


def cached_model_file(ticket: InferenceTicket) -> Path | None:
    """A model file of the ticket's cache row that is already on this machine, if any."""
    row = ticket.spec.cache
    if row is None or row.is_none():
        return None
    if row.source == "Local" and row.local is not None:
        where = Path(row.local.path)
        if where.is_file():
            return where
        if (where / "config.json").is_file():
            return where / "config.json"
        ggufs = sorted(where.glob("*.gguf")) if where.is_dir() else []
        return ggufs[0] if len(ggufs) == 1 else None
    if row.source == "HuggingFace" and row.hugging_face is not None:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(row.hugging_face.repo, "config.json", revision=row.hugging_face.revision)
        return Path(found) if isinstance(found, str) else None
    return None


def lacks_model_facts(ticket: InferenceTicket) -> bool:
    """The hardware row asks for the memory check but says nothing of the model's size."""
    row = ticket.spec.hardware
    memory = row.memory if row is not None and not row.is_none() else None
    return memory is not None and memory.config is None and memory.weight_size is None and memory.parameters is None


MODEL_FIELDS = ("config", "weightSize", "parameters", "dtype", "layers", "kvHeads", "headDim", "maxContextLength")
"""The memory fields that describe the model (replaced by a model file's); the others are the team's."""


def with_model_memory(ticket: InferenceTicket, facts: dict[str, object]) -> InferenceTicket:
    """`ticket` with its hardware row's model facts replaced by `facts` (what the team declared
    about context, concurrency and KV dtype is kept). Raises ModelFileError when the ticket has
    no hardware row to hold them."""
    row = ticket.spec.hardware
    if row is None or row.is_none():
        raise ModelFileError("--model-file: the ticket's hardware row is not filled; name the devices or className first")
    kept = row.memory.model_dump(by_alias=True, exclude_none=True) if row.memory is not None else {}
    kept = {k: v for k, v in kept.items() if k not in MODEL_FIELDS}
    memory = MemoryAnswer.model_validate({**kept, **facts})
    hardware = row.model_copy(update={"memory": memory})
    return ticket.model_copy(update={"spec": ticket.spec.model_copy(update={"hardware": hardware})})
