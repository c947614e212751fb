"""A module's version comes from the module.json of the package named like the module."""

from __future__ import annotations

from edgeloop_runtime import Module, ModuleSettings
from edgeloop_runtime.module_json import package_dir


def test_a_module_declared_under_its_package_name_reads_module_json() -> None:
    assert Module("example_module", ModuleSettings).version == "0.1.0"


def test_a_name_that_is_no_package_gives_version_0_0_0() -> None:
    assert Module("no_such_package_here", ModuleSettings).version == "0.0.0"


def test_an_explicit_version_wins() -> None:
    assert Module("example_module", ModuleSettings, version="9.9.9").version == "9.9.9"


def test_a_dotted_or_odd_name_is_not_looked_up() -> None:
    assert package_dir("example_module.app") is None
    assert package_dir("not a name") is None
