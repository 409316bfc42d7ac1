"""Response bodies and stream events in the shapes vLLM's OpenAI server and Anthropic's API use.

Pure builders: plain values in, JSON-ready dicts (or SSE frames) out. The server decides when
to send what; these decide only how it looks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from laneway.engines.sim.requests import EmbeddingRequest, RequestError
from laneway.engines.sim.tokens import embedding, embedding_base64

_ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens"}
_ANTHROPIC_ERROR = {400: "invalid_request_error", 404: "not_found_error", 500: "api_error",
                    503: "overloaded_error"}


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def sse_data(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"


def sse_event(event: str, obj: Any) -> bytes:
    return f"event: {event}\n".encode() + sse_data(obj)


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens + completion_tokens,
            "completion_tokens": completion_tokens, "prompt_tokens_details": None}


# -- errors ---------------------------------------------------------------------------------


def openai_error(err: RequestError) -> dict[str, Any]:
    return {"error": {"message": err.message, "type": err.kind, "param": err.param, "code": err.status}}


def anthropic_error(err: RequestError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": _ANTHROPIC_ERROR.get(err.status, "api_error"),
                                       "message": err.message}}


# -- models ---------------------------------------------------------------------------------


def model_list(names: Sequence[str], *, created: int, max_model_len: int) -> dict[str, Any]:
    return {"object": "list", "data": [
        {"id": n, "object": "model", "created": created, "owned_by": "vllm", "root": names[0],
         "parent": None, "max_model_len": max_model_len, "permission": []} for n in names]}


# -- chat -----------------------------------------------------------------------------------


def chat_completion(rid: str, model: str, created: int, text: str, finish_reason: str,
                    prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {"id": rid, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "tool_calls": []},
                         "logprobs": None, "finish_reason": finish_reason, "stop_reason": None}],
            "usage": usage(prompt_tokens, completion_tokens)}


def chat_chunk(rid: str, model: str, created: int, delta: dict[str, Any],
               finish_reason: str | None = None) -> dict[str, Any]:
    return {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}


def usage_chunk(rid: str, obj: str, model: str, created: int, prompt_tokens: int,
                completion_tokens: int) -> dict[str, Any]:
    """The last chunk `stream_options.include_usage` asks for: no choices, only usage."""
    return {"id": rid, "object": obj, "created": created, "model": model, "choices": [],
            "usage": usage(prompt_tokens, completion_tokens)}


# -- completions ----------------------------------------------------------------------------


def completion(rid: str, model: str, created: int, text: str, finish_reason: str,
               prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {"id": rid, "object": "text_completion", "created": created, "model": model,
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason,
                         "stop_reason": None}],
            "usage": usage(prompt_tokens, completion_tokens)}


def completion_chunk(rid: str, model: str, created: int, text: str,
                     finish_reason: str | None = None) -> dict[str, Any]:
    return {"id": rid, "object": "text_completion", "created": created, "model": model,
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason,
                         "stop_reason": None}]}


# -- embeddings -----------------------------------------------------------------------------


def embeddings(rid: str, created: int, request: EmbeddingRequest, dim: int) -> dict[str, Any]:
    data = []
    for i, text in enumerate(request.inputs):
        vector = embedding(text, dim)
        if request.dimensions is not None:  # Matryoshka-style: truncate, then renormalise
            vector = vector[: request.dimensions]
            norm = sum(v * v for v in vector) ** 0.5 or 1.0
            vector = [v / norm for v in vector]
        value: Any = embedding_base64(vector) if request.encoding_format == "base64" else vector
        data.append({"index": i, "object": "embedding", "embedding": value})
    total = sum(request.input_tokens)
    return {"id": rid, "object": "list", "created": created, "model": request.model, "data": data,
            "usage": {"prompt_tokens": total, "total_tokens": total, "completion_tokens": 0,
                      "prompt_tokens_details": None}}


# -- Anthropic messages ---------------------------------------------------------------------


def anthropic_stop_reason(finish_reason: str) -> str:
    return _ANTHROPIC_STOP.get(finish_reason, "end_turn")


def message(rid: str, model: str, text: str, finish_reason: str, input_tokens: int,
            output_tokens: int) -> dict[str, Any]:
    return {"id": rid, "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": anthropic_stop_reason(finish_reason), "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens}}


def message_start(rid: str, model: str, input_tokens: int) -> bytes:
    body: dict[str, Any] = {"id": rid, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 0}}
    return (sse_event("message_start", {"type": "message_start", "message": body})
            + sse_event("content_block_start", {"type": "content_block_start", "index": 0,
                                                "content_block": {"type": "text", "text": ""}})
            + sse_event("ping", {"type": "ping"}))


def message_delta_text(text: str) -> bytes:
    return sse_event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                             "delta": {"type": "text_delta", "text": text}})


def message_end(finish_reason: str, input_tokens: int, output_tokens: int) -> bytes:
    return (sse_event("content_block_stop", {"type": "content_block_stop", "index": 0})
            + sse_event("message_delta", {"type": "message_delta",
                                          "delta": {"stop_reason": anthropic_stop_reason(finish_reason),
                                                    "stop_sequence": None},
                                          "usage": {"input_tokens": input_tokens,
                                                    "output_tokens": output_tokens}})
            + sse_event("message_stop", {"type": "message_stop"}))
