"""Request bodies of the four inference APIs, parsed into one plain record the engine runs.

Parsing is pure: a JSON value in, a `GenerationRequest` or `EmbeddingRequest` out, or a
`RequestError` that says which field was wrong and what would be accepted. Unknown fields
(temperature, top_p, tools, ...) are accepted and ignored, as a model server does for sampling
settings it does not use; the simulator's output does not depend on them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from laneway.engines.sim.config import SimConfig
from laneway.engines.sim.tokens import count_chat_tokens, count_tokens

Api = Literal["chat", "completion", "messages"]
FinishReason = Literal["stop", "length"]


class RequestError(Exception):
    """A request the simulator refuses; rendered in the OpenAI or Anthropic error shape."""

    def __init__(self, message: str, *, status: int = 400, param: str | None = None,
                 kind: str = "BadRequestError") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.kind = kind


@dataclass(frozen=True)
class GenerationRequest:
    """One sequence to generate, whatever API asked for it."""

    api: Api
    model: str
    prompt_key: str
    prompt_tokens: int
    max_tokens: int | None
    ignore_eos: bool = False
    stream: bool = False
    include_usage: bool = False


@dataclass(frozen=True)
class EmbeddingRequest:
    model: str
    inputs: tuple[str, ...]
    input_tokens: tuple[int, ...]
    encoding_format: Literal["float", "base64"]
    dimensions: int | None


@dataclass(frozen=True)
class OutputPlan:
    """How many tokens a sequence will get and why it will stop."""

    tokens: int
    finish_reason: FinishReason


# -- request shapes -------------------------------------------------------------------------


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class _ContentPart(_Loose):
    type: str
    text: str | None = None


class _ChatMessage(_Loose):
    role: str
    content: str | list[_ContentPart] | None = None


class _StreamOptions(_Loose):
    include_usage: bool = False


class _ChatRequest(_Loose):
    model: str | None = None
    messages: list[_ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stream: bool = False
    stream_options: _StreamOptions | None = None
    n: int = Field(default=1, ge=1)
    ignore_eos: bool = False


_Prompt = str | list[str] | list[int] | list[list[int]]


class _CompletionRequest(_Loose):
    model: str | None = None
    prompt: _Prompt
    max_tokens: int | None = Field(default=None, ge=1)
    stream: bool = False
    stream_options: _StreamOptions | None = None
    n: int = Field(default=1, ge=1)
    ignore_eos: bool = False


class _EmbeddingRequest(_Loose):
    model: str | None = None
    input: _Prompt
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)


class _AnthropicMessage(_Loose):
    role: Literal["user", "assistant"]
    content: str | list[_ContentPart]


class _MessagesRequest(_Loose):
    model: str
    messages: list[_AnthropicMessage] = Field(min_length=1)
    system: str | list[_ContentPart] | None = None
    max_tokens: int = Field(ge=1)
    stream: bool = False
    ignore_eos: bool = False


# -- parsing --------------------------------------------------------------------------------


def decode_json(raw: bytes) -> Any:
    """The request body as JSON, or a 400 that says it is not JSON."""
    if not raw.strip():
        raise RequestError("the request body is empty; send a JSON object")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise RequestError(f"the request body is not valid JSON: {e}") from None


def _validate(model: type[BaseModel], body: Any) -> Any:
    if not isinstance(body, dict):
        raise RequestError(f"the request body must be a JSON object, not {type(body).__name__}")
    try:
        return model.model_validate(body)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or None
        message = f"{where}: {first['msg']}" if where else first["msg"]
        more = len(e.errors()) - 1
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise RequestError(message, param=where) from None


def resolve_model(requested: str | None, config: SimConfig) -> str:
    """The served name a request is for; an omitted model means the first served name."""
    if requested is None or requested == "":
        return config.model_name
    if requested not in config.served_model_names:
        served = ", ".join(config.served_model_names)
        raise RequestError(f"The model `{requested}` does not exist. This server serves: {served}.",
                           status=404, param="model", kind="NotFoundError")
    return requested


def _text_of(content: str | list[_ContentPart] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(p.text or "" for p in content if p.type in ("text", "input_text"))


def _check_stream_options(stream: bool, options: _StreamOptions | None) -> bool:
    if options is not None and not stream:
        raise RequestError("stream_options can only be set when stream is true", param="stream_options")
    return bool(options and options.include_usage)


def _check_n(n: int) -> None:
    if n != 1:
        raise RequestError(f"n: {n} choices were asked for; the simulator generates one (set n to 1)",
                           param="n")


def parse_chat(body: Any, config: SimConfig) -> GenerationRequest:
    r = _validate(_ChatRequest, body)
    _check_n(r.n)
    contents = [_text_of(m.content) for m in r.messages]
    return GenerationRequest(
        api="chat",
        model=resolve_model(r.model, config),
        prompt_key="\x1e".join(f"{m.role}:{c}" for m, c in zip(r.messages, contents)),
        prompt_tokens=count_chat_tokens(contents),
        max_tokens=r.max_completion_tokens if r.max_completion_tokens is not None else r.max_tokens,
        ignore_eos=r.ignore_eos,
        stream=r.stream,
        include_usage=_check_stream_options(r.stream, r.stream_options),
    )


def _single_prompt(prompt: Any, field: str) -> tuple[str, int]:
    """(prompt key, prompt tokens) of one prompt given as text or token ids."""
    if isinstance(prompt, str):
        return prompt, count_tokens(prompt)
    if isinstance(prompt, list) and all(isinstance(t, int) for t in prompt):
        return json.dumps(prompt), len(prompt)
    raise RequestError(f"{field}: give one prompt as text or as a list of token ids", param=field)


def parse_completion(body: Any, config: SimConfig) -> GenerationRequest:
    r = _validate(_CompletionRequest, body)
    _check_n(r.n)
    prompt: Any = r.prompt
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], (str, list)):
        if len(prompt) != 1:
            raise RequestError(f"prompt: {len(prompt)} prompts were sent in one request; the simulator "
                               "takes one prompt per request (send them as separate requests)",
                               param="prompt")
        prompt = prompt[0]
    key, tokens = _single_prompt(prompt, "prompt")
    if tokens == 0:
        raise RequestError("prompt: the prompt is empty; send at least one token", param="prompt")
    return GenerationRequest(
        api="completion",
        model=resolve_model(r.model, config),
        prompt_key=key,
        prompt_tokens=tokens,
        max_tokens=r.max_tokens,
        ignore_eos=r.ignore_eos,
        stream=r.stream,
        include_usage=_check_stream_options(r.stream, r.stream_options),
    )


def parse_messages(body: Any, config: SimConfig) -> GenerationRequest:
    r = _validate(_MessagesRequest, body)
    contents = [_text_of(m.content) for m in r.messages]
    if r.system:
        contents.insert(0, _text_of(r.system))
    return GenerationRequest(
        api="messages",
        model=resolve_model(r.model, config),
        prompt_key="\x1e".join(contents),
        prompt_tokens=count_chat_tokens(contents),
        max_tokens=r.max_tokens,
        ignore_eos=r.ignore_eos,
        stream=r.stream,
        include_usage=True,
    )


def parse_embedding(body: Any, config: SimConfig) -> EmbeddingRequest:
    r = _validate(_EmbeddingRequest, body)
    raw: Any = r.input
    items: Sequence[Any]
    items = [raw] if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)) else raw
    if not items:
        raise RequestError("input: no input was given; send a string or a list of strings", param="input")
    parsed = [_single_prompt(item, "input") for item in items]
    if r.dimensions is not None and r.dimensions > config.embedding_dim:
        raise RequestError(f"dimensions: {r.dimensions} is more than this model's {config.embedding_dim}",
                           param="dimensions")
    for _key, tokens in parsed:
        if tokens > config.max_model_len:
            raise RequestError(f"input: an input of {tokens} tokens is longer than this model's maximum "
                               f"context length of {config.max_model_len} tokens", param="input")
    return EmbeddingRequest(
        model=resolve_model(r.model, config),
        inputs=tuple(k for k, _ in parsed),
        input_tokens=tuple(t for _, t in parsed),
        encoding_format=r.encoding_format,
        dimensions=r.dimensions,
    )


def plan_output(request: GenerationRequest, config: SimConfig) -> OutputPlan:
    """How long the answer will be, and the 400 vLLM gives when it cannot fit the context.

    The simulated model ends its answer after `config.max_tokens` tokens; a request's own
    `max_tokens` cuts it shorter (`length`), and `ignore_eos` makes it exact.
    """
    natural = config.max_tokens
    limit = request.max_tokens
    if limit is None:
        plan = OutputPlan(natural, "stop")
    elif request.ignore_eos or limit <= natural:
        plan = OutputPlan(limit, "length")
    else:
        plan = OutputPlan(natural, "stop")
    wanted = request.prompt_tokens + (limit if limit is not None else plan.tokens)
    if wanted > config.max_model_len:
        where = "messages" if request.api != "completion" else "prompt"
        raise RequestError(
            f"This model's maximum context length is {config.max_model_len} tokens. However, you "
            f"requested {wanted} tokens ({request.prompt_tokens} in the {where}, "
            f"{wanted - request.prompt_tokens} in the completion). Please reduce the length of the "
            f"{where} or completion.", param=where)
    return plan
