"""Errors of the manifest tools: a template that cannot be rendered, a module.json that cannot be read."""

from __future__ import annotations


class RenderError(ValueError):
    """A template, module.json or `.env` that `edgeloop manifest render` cannot turn into a manifest."""
