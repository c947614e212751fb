"""Errors of the inference module: per-request bad input and model refusal, each with a reason code."""

from __future__ import annotations


class InferenceError(Exception):
    """Base of this module's errors; `reason` is a short code used as a metric label."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class BadInput(InferenceError):
    """One request's input is unusable (corrupt image, NaN...); other requests are unaffected."""


class ModelRejected(InferenceError):
    """A model version failed validation (checksum, contract, warm-up) and was not loaded."""


class ProviderError(InferenceError):
    """The execution providers that are active do not satisfy the configuration (e.g. requireGpu)."""
