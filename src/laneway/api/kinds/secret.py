"""Secret, in Kubernetes' own `v1` shape: API keys, kubeconfigs, provider tokens.

Secrets are write-only through the API: reads return them redacted (`redacted()`), and no
part of laneway logs or prints their values.
"""

from __future__ import annotations

import base64
import binascii
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from laneway.api.meta import Resource

REDACTED = "<redacted>"


class Secret(Resource):
    KIND: ClassVar[str] = "Secret"
    PLURAL: ClassVar[str] = "secrets"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ()
    API_VERSION: ClassVar[str] = "v1"

    api_version: Literal["v1"] = "v1"
    kind: Literal["Secret"] = "Secret"
    type: str = "Opaque"
    data: dict[str, str] = Field(default_factory=dict)
    string_data: dict[str, str] = Field(default_factory=dict)

    @field_validator("data")
    @classmethod
    def _base64(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if value == REDACTED:
                continue
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"data[{key!r}] is not valid base64; put plain text under 'stringData' instead") from None
        return v

    @model_validator(mode="after")
    def _fold_string_data(self) -> Secret:
        """stringData is write-only convenience, merged into data as Kubernetes does."""
        if self.string_data:
            for k, v in self.string_data.items():
                self.data[k] = base64.b64encode(v.encode()).decode()
            self.string_data = {}
        return self

    def value(self, key: str) -> str | None:
        raw = self.data.get(key)
        return None if raw is None else base64.b64decode(raw).decode()

    def redacted(self) -> Secret:
        return self.model_copy(update={"data": {k: REDACTED for k in self.data}, "string_data": {}})
