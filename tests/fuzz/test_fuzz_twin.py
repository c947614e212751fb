"""Every module's twin configuration under random desired patches (from its settings schema, mutated):
schema-valid patches are applied or refused by the module's own check, invalid ones are always refused
with `config.status == "refused"` and the previous settings stay in force; the module never dies."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fuzz_harness import CASES, LiveModule
from fuzz_modules import ALL, module_env
from fuzz_profiles import fuzz_settings
from fuzz_strategies import SPECIAL_FLOATS, any_json, mutated, scalars
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from edgeloop_runtime.errors import ConfigError
from edgeloop_runtime.settings import ModuleSettings, desired_overrides, merge_patch

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = json.loads((ROOT / "deployment" / "deployment.template.json").read_text())["modulesContent"]
PUBLISHED = json.loads((ROOT / "deployment" / "publishednodes.plant.json").read_text())
LOOPBACK = "opc.tcp://127.0.0.1:1"  # refused at once: nothing leaves the machine

# Fields whose random values would reach outside the test (paths, devices, endpoints): fixed choices.
FIXED: dict[str, list[Any]] = {
    "pkiDir": [None],
    "storePath": [None],
    "source": [None, "", "/nonexistent/camera.mp4"],
    "publishedNodesFile": [None, "/nonexistent/publishednodes.json", "", 5],
    "modelPath": [None, "/nonexistent/models", str(ROOT / "modules" / "inference" / "model_repository")],
    "metricsPort": [None, -1, "x", 1.5],
    "blobConnectionString": [None],
}


# ---- values from a JSON schema ------------------------------------------------------------------
def from_schema(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values valid for one property's JSON schema (the subset pydantic emits)."""
    if "$ref" in schema:
        return from_schema(defs[schema["$ref"].rsplit("/", 1)[1]], defs, depth)
    if "anyOf" in schema:
        return st.one_of([from_schema(s, defs, depth) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    typ = schema.get("type")
    if typ == "null":
        return st.none()
    if typ == "boolean":
        return st.booleans()
    if typ in ("integer", "number"):
        lo = schema.get("minimum", schema.get("exclusiveMinimum"))
        hi = schema.get("maximum", schema.get("exclusiveMaximum"))
        lo = None if lo is None else lo + (1 if typ == "integer" and "exclusiveMinimum" in schema else 0)
        hi = None if hi is None else hi - (1 if typ == "integer" and "exclusiveMaximum" in schema else 0)
        if typ == "integer":
            return st.integers(lo if lo is not None else -(2**40), hi if hi is not None else 2**40)
        return st.floats(
            lo if lo is not None else -1e9,
            hi if hi is not None else 1e9,
            allow_nan=False,
            exclude_min="exclusiveMinimum" in schema,
            exclude_max="exclusiveMaximum" in schema,
        )
    if typ == "string":
        if "pattern" in schema:
            return st.just(LOOPBACK)
        return st.text(
            min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 12), 12)
        ).filter(lambda t: len(t) >= schema.get("minLength", 0))
    if typ == "array":
        item = from_schema(schema.get("items", {}), defs, depth + 1) if depth < 2 else scalars
        return st.lists(item, max_size=3)
    if typ == "object":
        if "properties" in schema:
            required = {
                k: from_schema(schema["properties"][k], defs, depth + 1) for k in schema.get("required", [])
            }
            optional = {
                k: from_schema(v, defs, depth + 1)
                for k, v in schema["properties"].items()
                if k not in required
            }
            return st.fixed_dictionaries(required, optional=optional)
        extra = schema.get("additionalProperties", True)
        item = from_schema(extra, defs, depth + 1) if isinstance(extra, dict) and depth < 2 else scalars
        return st.dictionaries(st.text(max_size=8), item, max_size=3)
    return any_json


def wrong_for(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of the wrong type or out of bounds for a property (may occasionally be valid)."""
    return st.one_of(scalars, any_json, SPECIAL_FLOATS, st.integers(-(2**70), 2**70),
                     st.just("x" * 100_000), st.lists(scalars, max_size=3))  # fmt: skip


@st.composite
def patches(draw: st.DrawFn, settings_cls: type[ModuleSettings], seed: dict[str, Any]) -> dict[str, Any]:
    """A desired patch: 1-3 properties valid, wrong, null or unknown, or the deployment's, mutated."""
    schema = settings_cls.model_json_schema()
    props: dict[str, Any] = schema["properties"]
    defs = schema.get("$defs", {})
    if seed and draw(st.integers(0, 3)) == 0:
        patch = draw(mutated(st.just(seed)))
        return _contain(patch) if isinstance(patch, dict) else {"x": patch}
    patch = {}
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(props)))
        how = draw(st.sampled_from(["valid", "valid", "valid", "wrong", "null", "unknown", "snake"]))
        if key in FIXED:
            patch[key] = draw(st.sampled_from(FIXED[key]))
        elif how == "valid":
            patch[key] = draw(from_schema(props[key], defs))
        elif how == "wrong":
            patch[key] = draw(wrong_for(props[key]))
        elif how == "null":
            patch[key] = None
        elif how == "unknown":
            patch[draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in props))] = draw(scalars)
        else:
            patch[key.upper()] = draw(scalars)
    contained: dict[str, Any] = _contain(patch)
    return contained


def _contain(obj: Any) -> Any:
    """Keep every endpoint on loopback and every path fixed, wherever a mutation put them."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in FIXED and not isinstance(v, dict | list) and v not in FIXED[k]:
                v = FIXED[k][0]
            out[k] = _contain(v)
        return out
    if isinstance(obj, list):
        return [_contain(v) for v in obj]
    if isinstance(obj, str) and obj.startswith("opc.tcp://"):
        return LOOPBACK
    return obj


def seed_for(name: str) -> dict[str, Any]:
    """The deployment template's desired properties for the module (endpoints on loopback)."""
    desired = dict(TEMPLATE.get(name, {}).get("properties.desired", {}))
    if name == "opcua_ingest":
        desired["publishedNodes"] = PUBLISHED[:2]
    contained: dict[str, Any] = _contain(desired)
    return contained


# ---- the oracle ---------------------------------------------------------------------------------
def schema_valid(m: LiveModule, desired: dict[str, Any]) -> bool:
    """Whether env + desired validate against the settings model (what the runtime must enforce)."""
    cls = m.module.settings_cls
    try:
        values = {**m.runner.env_values, **desired_overrides(cls, desired)}
        cls.model_validate(values)
    except (ConfigError, ValidationError, ValueError, TypeError, RecursionError):
        return False
    return True


@pytest.fixture(scope="module")
def fresh(live: Callable[..., LiveModule]) -> Iterator[Callable[[str], LiveModule]]:
    modules: dict[str, LiveModule] = {}

    def get(name: str) -> LiveModule:
        if name not in modules:
            modules[name] = live(ALL[name], module_env(name, live.tmp))  # type: ignore[attr-defined]
        return modules[name]

    yield get


SCALES = {"inference": 1.0, "opcua_ingest": 1.5}


def _make_test(name: str) -> Any:
    cls = ALL[name].settings_cls

    @fuzz_settings(SCALES.get(name, 3.0))
    @given(patch=patches(cls, seed_for(name)))
    def run(fresh: Callable[[str], LiveModule], patch: dict[str, Any]) -> None:
        m = fresh(name)
        assert m.ctx is not None
        before = m.ctx.settings
        candidate = merge_patch(m.runner.config.desired, patch)
        valid = schema_valid(m, candidate)
        config = m.patch(patch)
        CASES[f"twin {name}"] += 1
        CASES[f"twin {name} ({config['status']})"] += 1
        assert config["status"] in ("applied", "refused"), config
        if config["status"] == "refused":
            assert config["error"], "a refusal says why"
            assert m.ctx.settings is before, "refused settings must leave the previous ones in force"
            assert m.client.reported["config"]["status"] == "refused"
        else:
            assert valid, f"schema-invalid desired properties were applied: {patch!r}"
            assert m.ctx.settings == cls.model_validate(
                {**m.runner.env_values, **desired_overrides(cls, candidate)}
            )
        if not valid:
            assert config["status"] == "refused"
        assert m.task is not None and not m.task.done(), f"{name} died on {patch!r}"
        assert m.alive()

    return run


for _name in ALL:
    globals()[f"test_{_name}_twin_patches"] = _make_test(_name)


def test_special_floats_are_never_applied_to_bounded_numbers(fresh: Callable[[str], LiveModule]) -> None:
    """NaN passes `gt`/`le` checks in naive code; pydantic must refuse it for bounded fields."""
    m = fresh("camera_ingest")
    for value in (math.nan, math.inf, -math.inf):
        config = m.patch({"fps": value})
        assert config["status"] == "refused", value
        assert math.isfinite(m.ctx.settings.fps)  # type: ignore[union-attr]
