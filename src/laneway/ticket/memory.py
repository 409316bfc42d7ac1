"""The hardware row's memory check: can the devices a replica claims hold the model? Pure.

What a replica needs in device memory is estimated from the model's own metadata, as the
ticket's `hardware.memory` carries it (filled from a GGUF header or a HuggingFace
`config.json` by `laneway ticket check --model-file`, see `model_files`, or written by hand):

- **weights**: a GGUF's exact tensor bytes (`weightSize`), or the parameter count times the
  bytes of its dtype. From a `config.json` the parameter count is computed with the
  llama-family formula (embeddings, attention with grouped KV heads, a gated MLP or
  `num_experts` of them, norms; the output matrix unless `tie_word_embeddings`): close for
  Llama, Mistral, Qwen and their MoE variants, an estimate for other architectures;
- **KV cache**: 2 (K and V) x layers x KV heads x head size x the KV element's bytes, per
  token, for `concurrency` sequences (default 1: what an engine needs to start at all) of
  `contextLength` tokens (default: the engine's `--max-model-len`, else the model's own).

The need is compared with every published class the row matches (the scheduler may place the
replica on any of them): the memory of the devices the replica claims there (their
`capacity.memory` times the count requested), of which `USABLE_SHARE` is counted usable, what
vLLM's default `--gpu-memory-utilization` leaves after the engine's runtime and activations.
A class that cannot hold it fails the row with both numbers. A class that publishes no device
memory is named, not judged. Not modelled: activation peaks of long prefills, a CUDA graph
pool, the LoRA adapters, pipeline parallelism across nodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from laneway.api.kinds.platform import InferenceClass
from laneway.api.kinds.ticket import InferenceTicket, MemoryAnswer
from laneway.placement.dra.quantity import QuantityError, parse_quantity
from laneway.ticket.engine_args import positive_flag

USABLE_SHARE = 0.9
"""Of a device's memory, what the model may use: vLLM's default `--gpu-memory-utilization`."""
GIB = 1024**3
MEMORY_CAPACITY = "memory"
"""The device capacity key that says how much memory a device has (`capacity.memory.value`)."""

DTYPE_BYTES: dict[str, float] = {
    "float32": 4, "fp32": 4, "f32": 4,
    "float16": 2, "fp16": 2, "f16": 2, "half": 2, "bfloat16": 2, "bf16": 2,
    "fp8": 1, "float8": 1, "float8_e4m3fn": 1, "float8_e5m2": 1, "int8": 1, "q8_0": 1,
    "int4": 0.5, "fp4": 0.5, "q4_0": 0.5,
}
KV_BYTES: dict[str, int] = {"float32": 4, "float16": 2, "bfloat16": 2, "fp8": 1, "int8": 1}
CONFIG_INT_MAX = 10**8
"""The largest size a config.json field may give (no model has a dimension near it)."""
CONTEXT_FLAGS = ("--max-model-len", "--context-length", "--ctx-size")
"""Engine flags that bound a sequence's tokens (vLLM, SGLang, llama.cpp)."""


class MemoryInputError(ValueError):
    """The memory answer cannot be turned into a size; the message names the field."""


@dataclass(frozen=True)
class ModelShape:
    """What the model is, as far as memory goes."""

    weights_bytes: int
    how: str
    """How the weights' size was found, for the message."""
    layers: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None
    max_context: int | None = None

    def kv_bytes_per_token(self, element_bytes: int) -> int | None:
        if self.layers is None or self.kv_heads is None or self.head_dim is None:
            return None
        return 2 * self.layers * self.kv_heads * self.head_dim * element_bytes


def gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB" if n >= GIB / 10 else f"{n / 1024**2:.1f} MiB"


def _count(n: int) -> str:
    for size, unit in ((10**12, "T"), (10**9, "B"), (10**6, "M")):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def _dtype_bytes(dtype: str, where: str) -> float:
    found = DTYPE_BYTES.get(dtype.strip().lower())
    if found is None:
        raise MemoryInputError(f"{where}: dtype {dtype!r} is not one the estimate knows ({', '.join(sorted(DTYPE_BYTES))})")
    return found


def _int(config: Mapping[str, object], *keys: str, default: int | None = None) -> int | None:
    for key in keys:
        value = config.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= CONFIG_INT_MAX:
            shown = value if not isinstance(value, int) or value <= CONFIG_INT_MAX else f"above {CONFIG_INT_MAX}"
            raise MemoryInputError(
                f"hardware.memory.config: {key} is {shown!r}; a positive integer up to {CONFIG_INT_MAX} is expected"
            )
        return value
    return default


def config_parameters(config: Mapping[str, object]) -> int:
    """The parameter count of a llama-family `config.json` (dense or mixture of experts)."""
    hidden = _int(config, "hidden_size", "n_embd", "d_model")
    layers = _int(config, "num_hidden_layers", "n_layer", "num_layers")
    heads = _int(config, "num_attention_heads", "n_head")
    vocab = _int(config, "vocab_size")
    missing = [k for k, v in (("hidden_size", hidden), ("num_hidden_layers", layers),
                              ("num_attention_heads", heads), ("vocab_size", vocab)) if v is None]
    if missing or hidden is None or layers is None or heads is None or vocab is None:
        raise MemoryInputError(
            f"hardware.memory.config lacks {', '.join(missing)}: give the model's whole config.json, or declare "
            "parameters and dtype instead"
        )
    kv = _int(config, "num_key_value_heads", default=heads) or heads
    head_dim = _int(config, "head_dim", default=hidden // heads) or hidden // heads
    inter = _int(config, "intermediate_size", "n_inner", default=4 * hidden) or 4 * hidden
    experts = _int(config, "num_local_experts", "num_experts", "n_routed_experts", default=0) or 0
    attention = hidden * heads * head_dim * 2 + hidden * kv * head_dim * 2
    if experts:
        expert = _int(config, "moe_intermediate_size", default=inter) or inter
        shared = _int(config, "shared_expert_intermediate_size", default=0) or 0
        shared += (_int(config, "n_shared_experts", default=0) or 0) * expert
        mlp = experts * 3 * hidden * expert + hidden * experts + 3 * hidden * shared
    else:
        mlp = 3 * hidden * inter
    tied = config.get("tie_word_embeddings") is True
    return vocab * hidden * (1 if tied else 2) + layers * (attention + mlp + 2 * hidden) + hidden


def _config_dtype(config: Mapping[str, object]) -> tuple[str, float]:
    quant = config.get("quantization_config")
    if isinstance(quant, Mapping):
        bits = quant.get("bits")
        if isinstance(bits, int) and not isinstance(bits, bool) and bits > 0:
            return f"{bits}-bit quantized", bits / 8
        method = quant.get("quant_method")
        if isinstance(method, str) and method.lower() in DTYPE_BYTES:
            return method.lower(), DTYPE_BYTES[method.lower()]
    dtype = config.get("torch_dtype", config.get("dtype"))
    if not isinstance(dtype, str):
        raise MemoryInputError("hardware.memory.config has no torch_dtype: add it (e.g. bfloat16), or declare parameters and dtype")
    return dtype, _dtype_bytes(dtype, "hardware.memory.config")


def shape_of(answer: MemoryAnswer) -> ModelShape:
    """The model's shape from the row's memory answer. Raises MemoryInputError saying what is missing."""
    if answer.config is not None:
        config = answer.config
        params = config_parameters(config)
        dtype, per = _config_dtype(config)
        heads = _int(config, "num_attention_heads", "n_head")
        hidden = _int(config, "hidden_size", "n_embd", "d_model")
        head_dim = _int(config, "head_dim", default=hidden // heads if hidden and heads else None)
        return ModelShape(
            weights_bytes=int(params * per),
            how=f"{_count(params)} parameters x {per:g} bytes ({dtype}, from config.json)",
            layers=_int(config, "num_hidden_layers", "n_layer", "num_layers"),
            kv_heads=_int(config, "num_key_value_heads", default=heads),
            head_dim=head_dim,
            max_context=_int(config, "max_position_embeddings", "n_positions", "max_sequence_length"),
        )
    shape = dict(layers=answer.layers, kv_heads=answer.kv_heads, head_dim=answer.head_dim, max_context=answer.max_context_length)
    if answer.weight_size is not None:
        try:
            size = int(parse_quantity(answer.weight_size).value)
        except QuantityError as e:
            raise MemoryInputError(f"hardware.memory.weightSize: {e}") from None
        what = f", {_count(answer.parameters)} parameters" if answer.parameters else ""
        dtype = f" {answer.dtype}" if answer.dtype else ""
        return ModelShape(weights_bytes=size, how=f"weightSize {answer.weight_size}{dtype}{what}", **shape)
    if answer.parameters is not None and answer.dtype is not None:
        per = _dtype_bytes(answer.dtype, "hardware.memory")
        return ModelShape(
            weights_bytes=int(answer.parameters * per),
            how=f"{_count(answer.parameters)} parameters x {per:g} bytes ({answer.dtype})",
            **shape,
        )
    raise MemoryInputError(
        "hardware.memory says nothing of the model's size: give config (a config.json), weightSize, or parameters "
        "and dtype (or run laneway ticket check --model-file MODEL.gguf|config.json)"
    )


def declared_context(args: Sequence[str]) -> int | None:
    """The engine's per-sequence token limit from its arguments (`--max-model-len 65536`)."""
    return positive_flag(args, CONTEXT_FLAGS)


@dataclass(frozen=True)
class MemoryNeed:
    weights: int
    kv: int | None
    text: str
    notes: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return self.weights + (self.kv or 0)


def memory_need(ticket: InferenceTicket, answer: MemoryAnswer) -> MemoryNeed:
    """What one replica needs (raises MemoryInputError)."""
    shape = shape_of(answer)
    engine = ticket.spec.engine
    args = [*engine.command, *engine.args] if engine is not None and not engine.is_none() else []
    context = answer.context_length or declared_context(args) or shape.max_context
    per_token = shape.kv_bytes_per_token(KV_BYTES[answer.kv_cache_dtype])
    weights = f"weights {gib(shape.weights_bytes)} ({shape.how})"
    if per_token is None or context is None:
        lacking = "layer and KV head counts are" if per_token is None else "context length is"
        return MemoryNeed(shape.weights_bytes, None, f"{weights}; KV cache not estimated: no {lacking} known")
    sequences = answer.concurrency or 1
    kv = per_token * context * sequences
    notes: tuple[str, ...] = ()
    if shape.max_context is not None and context > shape.max_context:
        notes = (f"a sequence of {context} tokens is longer than the model's own context of {shape.max_context} "
                 "(engines refuse to start so): lower contextLength or --max-model-len",)
    return MemoryNeed(
        shape.weights_bytes, kv,
        f"{weights} + KV cache {gib(kv)} ({sequences} sequence(s) x {context} tokens x {per_token / 1024:g} KiB a token, "
        f"{answer.kv_cache_dtype})",
        notes,
    )


def replica_memory(cls: InferenceClass, demand: Mapping[str, int]) -> int | None:
    """Bytes of device memory a replica claims on `cls` (`demand`: class device name → count),
    from the devices that publish `capacity.memory`; None when none of them does."""
    total: int | None = None
    for device in cls.spec.devices:
        count = demand.get(device.name, 0)
        published = device.capacity.get(MEMORY_CAPACITY)
        if not count or published is None:
            continue
        try:
            size = int(parse_quantity(published.value).value)
        except QuantityError:
            continue
        total = (total or 0) + count * size
    return total


@dataclass(frozen=True)
class MemoryCheck:
    fits: bool
    message: str
    details: tuple[str, ...] = ()


def check_memory(need: MemoryNeed, per_class: Mapping[str, int | None]) -> MemoryCheck:
    """The need against each matching class's replica memory (`per_class`, None: not published)."""
    too_small = {name: m for name, m in per_class.items() if m is not None and need.total > m * USABLE_SHARE}
    unknown = sorted(name for name, m in per_class.items() if m is None)
    head = f"the model needs {gib(need.total)} of device memory per replica: {need.text}"
    notes = need.notes + tuple(f"class {name} publishes no device capacity.memory: not checked there" for name in unknown)
    if too_small:
        gives = "; ".join(f"class {name} gives {gib(m * USABLE_SHARE)} usable ({USABLE_SHARE:.0%} of {gib(m)})"
                          for name, m in sorted(too_small.items()))
        return MemoryCheck(
            False,
            f"{head}; {gives}: request more devices (count), select a class with more memory, "
            "or lower contextLength or concurrency",
            notes,
        )
    holds = [f"{name} ({gib(m * USABLE_SHARE)} usable)" for name, m in sorted(per_class.items()) if m is not None]
    fits = f"; fits {', '.join(holds)}" if holds else ""
    return MemoryCheck(True, head + fits, notes)
