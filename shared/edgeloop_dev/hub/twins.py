"""Module twins: desired from the manifest (plus pushed patches), reported merged from modules; persisted."""

from __future__ import annotations

import copy
from typing import Any

from edgeloop_dev.hub.errors import TwinError
from edgeloop_dev.hub.store import Store, TwinRecord

MAX_TWIN_SECTION_BYTES = 32 * 1024  # properties.desired / properties.reported limit


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Apply a JSON merge patch in place: objects merge, null deletes, anything else replaces."""
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge_patch(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _strip(section: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in section.items() if not k.startswith("$")}


class Twins:
    """Every module twin the hub knows; desired `$version` is the one last pushed."""

    def __init__(self, store: Store, manifest_desired: dict[str, dict[str, Any]]) -> None:
        self._store = store
        self._cache: dict[str, TwinRecord] = {}
        for module, desired in manifest_desired.items():
            baseline = _strip(desired)
            rec = store.load_twin(module)
            if rec is None:
                rec = TwinRecord({**copy.deepcopy(baseline), "$version": 1}, {"$version": 1}, baseline)
            elif rec.baseline != baseline:
                # the manifest changed since the last start: it wins, with a new version
                rec.desired = {**copy.deepcopy(baseline), "$version": int(rec.desired.get("$version", 0)) + 1}
                rec.baseline = baseline
            self._cache[module] = rec
            store.save_twin(module, rec)

    def _record(self, module: str) -> TwinRecord:
        rec = self._cache.get(module)
        if rec is None:
            rec = self._store.load_twin(module) or TwinRecord({"$version": 1}, {"$version": 1}, {})
            self._cache[module] = rec
        return rec

    def get(self, module: str) -> dict[str, Any]:
        """The twin as the SDK's get_twin() returns it: {"desired": {...}, "reported": {...}}."""
        rec = self._record(module)
        return {"desired": copy.deepcopy(rec.desired), "reported": copy.deepcopy(rec.reported)}

    def patch_reported(self, module: str, patch: object) -> int:
        """Merge a reported patch; return the new reported `$version`."""
        if not isinstance(patch, dict):
            raise TwinError("a reported-properties patch must be a JSON object")
        rec = self._record(module)
        merged = copy.deepcopy(rec.reported)
        merge_patch(merged, patch)
        merged["$version"] = int(rec.reported.get("$version", 0)) + 1
        if len(str(merged)) > MAX_TWIN_SECTION_BYTES * 2:
            raise TwinError("reported properties would exceed 32 KB")
        rec.reported = merged
        self._store.save_twin(module, rec)
        return int(merged["$version"])

    def patch_desired(self, module: str, patch: object) -> dict[str, Any]:
        """Merge a desired patch; return the payload to push (the patch plus the new `$version`)."""
        if not isinstance(patch, dict):
            raise TwinError("a desired-properties patch must be a JSON object")
        rec = self._record(module)
        merged = copy.deepcopy(rec.desired)
        merge_patch(merged, patch)
        version = int(rec.desired.get("$version", 0)) + 1
        merged["$version"] = version
        rec.desired = merged
        self._store.save_twin(module, rec)
        return {**_strip(copy.deepcopy(patch)), "$version": version}
