"""What a balancing policy may know of the request it places: a read-only, lazy view. Pure.

The proxy has already parsed the JSON body (it routes `/v1` by `model` and asks for usage), so
the view holds that parse and derives more only when asked: `prompt` walks the messages or
prompt once, on first access, and only a policy that reads it pays for it. The default policy
never does, which keeps the hot path as it was.

The caller appears only as `key_id`, the short fingerprint the gateway already meters by
(`keys.fingerprint`); the key itself never reaches a policy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from laneway.api.meta import ObjectKey

PROMPT_FIELDS = ("system", "messages", "prompt", "input")
"""Where a prompt lives, in the order it is sent to the model: Anthropic's `system`, then chat
`messages` (OpenAI and Anthropic), a completion's `prompt`, an embedding's `input`."""


@dataclass(frozen=True)
class Message:
    """One turn as sent: its role and its content as text (non-text parts as canonical JSON, so
    an image still counts towards the prefix it belongs to)."""

    role: str
    text: str


@dataclass(frozen=True)
class Prompt:
    """The request's prompt as sent, in order. Empty when the body carries none."""

    messages: tuple[Message, ...] = ()

    @cached_property
    def text(self) -> str:
        """One canonical string of the whole prompt: role and text of each turn, separated by
        control characters that cannot be confused with content. Equal prefixes of turns give
        equal prefixes of `text`, which is what prefix hashing needs."""
        return "".join(f"{m.role}\x1f{m.text}\x1e" for m in self.messages)


EMPTY_PROMPT = Prompt()


class RequestView:
    """One request as a balancing policy sees it. Built once per request, shared by its
    attempts; every field is read-only and the payload inside is never handed out, so a policy
    cannot change what is sent. A plain class with slots, not a frozen dataclass: it is made
    for every request, and this costs a third as much."""

    __slots__ = ("_key_id", "_model", "_path", "_payload", "_prompt", "_service")

    def __init__(
        self,
        *,
        service: ObjectKey,
        model: str | None,
        path: str,
        key_id: str,
        payload: Mapping[str, object] | None = None,
    ) -> None:
        self._service = service
        self._model = model
        self._path = path
        self._key_id = key_id
        self._payload = payload
        self._prompt: Prompt | None = None

    @property
    def service(self) -> ObjectKey:
        return self._service

    @property
    def namespace(self) -> str:
        return self._service.namespace

    @property
    def model(self) -> str | None:
        """The body's `model` as the caller sent it (None when the body names none)."""
        return self._model

    @property
    def path(self) -> str:
        """The path sent upstream, e.g. `/v1/chat/completions`."""
        return self._path

    @property
    def key_id(self) -> str:
        """The caller: its key's fingerprint, or `anonymous`."""
        return self._key_id

    @property
    def stream(self) -> bool:
        """Whether the caller asked for a streamed answer."""
        return self._payload is not None and self._payload.get("stream") is True

    @property
    def max_tokens(self) -> object:
        """The answer length the caller allows (`max_completion_tokens`, else `max_tokens`), as
        sent: None when absent, and not checked here (the fair queue's cost estimate reads it)."""
        if self._payload is None:
            return None
        value = self._payload.get("max_completion_tokens")
        return value if value is not None else self._payload.get("max_tokens")

    @property
    def prompt_parsed(self) -> bool:
        """Whether `prompt` was derived yet (what a policy that never reads it never pays)."""
        return self._prompt is not None

    @property
    def prompt(self) -> Prompt:
        """The prompt as sent (see `Prompt`), derived on first access and kept."""
        prompt = self._prompt
        if prompt is None:
            prompt = self._prompt = EMPTY_PROMPT if self._payload is None else prompt_of(self._payload)
        return prompt

    def __repr__(self) -> str:
        return f"RequestView(service={self._service}, model={self._model!r}, path={self._path!r}, key_id={self._key_id!r})"


def prompt_of(payload: Mapping[str, object]) -> Prompt:
    """The prompt of an OpenAI or Anthropic request body, in the order the model reads it."""
    out: list[Message] = []
    for name in PROMPT_FIELDS:
        value = payload.get(name)
        if value is None:
            continue
        if name == "messages" and isinstance(value, list):
            for m in value:
                if isinstance(m, dict):
                    role = m.get("role")
                    out.append(Message(role if isinstance(role, str) else "", _text(m.get("content"))))
                else:
                    out.append(Message("", _text(m)))
        else:
            out.append(Message(name, _text(value)))
    return Prompt(tuple(out)) if out else EMPTY_PROMPT


def _text(content: object) -> str:
    """Content as text: a string as is; a list of content parts joined, a text part by its text
    and any other part (an image, a tool result) as canonical JSON; anything else (token ids, a
    batch of prompts) as canonical JSON, so distinct prompts never render alike."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        return "".join(_part(p) for p in content)
    return _canonical(content)


def _part(part: dict[str, object]) -> str:
    text = part.get("text")
    if part.get("type") == "text" and isinstance(text, str):
        return text
    return _canonical(part)


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
