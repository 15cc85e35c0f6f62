"""Surrogates: every model maps coordinates to fields through one protocol."""

from sciml.models.registry import Surrogate, available_models, build_model, register_model

__all__ = ["Surrogate", "available_models", "build_model", "register_model"]
