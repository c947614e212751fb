"""Errors of the inference module, on the runtime's hierarchy, each with a short reason code for metrics."""

from __future__ import annotations

from edgeloop_runtime.errors import ContractError, EdgeloopError, FatalError


class BadInput(ContractError):
    """One request's input is unusable (corrupt image, NaN...); other requests are unaffected."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ModelRejected(EdgeloopError):
    """A model version failed validation (checksum, contract, warm-up) and was not loaded."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ProviderError(FatalError):
    """The execution providers that are active do not satisfy the configuration (e.g. requireGpu)."""
