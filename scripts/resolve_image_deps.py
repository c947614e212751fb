"""Resolve every module image's dependency set for each image platform against the package index, installing
nothing (`pip install --dry-run --report`), and print or write the resolved versions.

pip resolves as if it ran in the image: the base image's glibc as `--platform` tags, its Python, CPython,
wheels only (an image has no compiler). Pure-Python projects that publish only an sdist (paho-mqtt 1.x) are
built into a wheel here first and offered with `--find-links`, as pip builds them in the image; one whose
sdist builds platform-specific code, or does not build at all, fails naming the package and platform.
Limitation: pip evaluates `platform_machine` markers for this machine, not the target (no set here has one).

    scripts/resolve_image_deps.py [--platform amd64|arm64v8|amd64.gpu] [--write scripts/results/image-deps.md]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import tomllib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Target:
    """An image platform as pip sees it: the base image's Python, CPU and glibc, and extra indexes."""

    platform: str  # the Dockerfile suffix
    python: str
    arch: str
    glibc_minor: int
    extra_index: str | None = None
    index_only: tuple[str, ...] = ()  # projects whose wheels only `extra_index` has


TARGETS = {
    # python:3.11.11-slim-bookworm: CPython 3.11, glibc 2.36
    "amd64": Target("amd64", "3.11", "x86_64", 36),
    "arm64v8": Target("arm64v8", "3.11", "aarch64", 36),
    # nvcr.io/nvidia/cuda:*-ubuntu24.04 with Ubuntu's python3: CPython 3.12, glibc 2.39; TensorRT's
    # libraries are on NVIDIA's index only (PyPI has a stub sdist that needs NVIDIA's wheel-stub to build)
    "amd64.gpu": Target(
        "amd64.gpu", "3.12", "x86_64", 39, "https://pypi.nvidia.com", ("tensorrt-cu13-libs",)
    ),
}


class ResolveError(RuntimeError):
    """A module's set does not resolve for a platform; the message names the package."""


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _req_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return _norm(match.group(1)) if match else requirement


def module_sets(platform: str) -> dict[str, list[str]]:
    """Each module with a Dockerfile for `platform`: the runtime's requirements plus its image's extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = {_norm(k): v for k, v in project["optional-dependencies"].items()}
    sets = {}
    for dockerfile in sorted(ROOT.glob(f"modules/*/Dockerfile.{platform}")):
        name = dockerfile.parent.name
        extra = _norm(name) + ("-gpu" if platform.endswith(".gpu") else "")
        sets[name] = [*project["dependencies"], *extras[extra]]
    return sets


def reachable(url: str, timeout: float = 15.0) -> str | None:
    """None if `url` answers, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return None
    except OSError as exc:
        return f"{url} unreachable ({exc})"


def _platform_tags(target: Target) -> list[str]:
    tags = [f"manylinux_2_{m}_{target.arch}" for m in range(target.glibc_minor, 16, -1)]
    tags.append(f"manylinux2014_{target.arch}")
    if target.arch == "x86_64":
        tags += ["manylinux2010_x86_64", "manylinux1_x86_64"]
    return [arg for tag in tags for arg in ("--platform", tag)]


def _pure_wheel(requirement: str, target: Target, wheels: Path) -> None:
    """Build `requirement`'s sdist into `wheels`; ResolveError unless it is a pure-Python wheel."""
    name = _req_name(requirement)
    with tempfile.TemporaryDirectory() as out:
        built = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", out, requirement],
            capture_output=True,
            text=True,
        )
        files = list(Path(out).glob("*.whl"))
        if built.returncode != 0 or not files:
            raise ResolveError(
                f"{target.platform}: {name} has no wheel for {target.arch} / CPython {target.python} "
                f"and its sdist does not build: {built.stderr.strip().splitlines()[-1:]}"
            )
        if not files[0].name.endswith("-none-any.whl"):
            raise ResolveError(
                f"{target.platform}: {name} has no wheel for {target.arch} / CPython {target.python} and its "
                f"sdist builds platform code ({files[0].name}): the image would need a compiler"
            )
        files[0].replace(wheels / files[0].name)


def resolve(requirements: list[str], target: Target, wheels: Path) -> dict[str, str]:
    """{project: version} pip would install for `target`; ResolveError naming what has no wheel."""
    base = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
    base += ["--only-binary=:all:", "--implementation", "cp", "--python-version", target.python]
    base += [*_platform_tags(target), "--find-links", str(wheels)]
    if target.extra_index:
        base += ["--extra-index-url", target.extra_index]
    tried: set[str] = set()
    while True:
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "report.json"
            argv = [*base, "--target", str(Path(tmp) / "t"), "--report", str(report), *requirements]
            result = subprocess.run(argv, capture_output=True, text=True)
            if result.returncode == 0:
                installs = json.loads(report.read_text())["install"]
                return {_norm(i["metadata"]["name"]): i["metadata"]["version"] for i in installs}
        missing = re.search(r"No matching distribution found for (\S+)", result.stderr)
        if missing is None:
            raise ResolveError(f"{target.platform}: pip failed: {result.stderr.strip()[-1500:]}")
        if missing.group(1) in tried:
            raise ResolveError(f"{target.platform}: no wheel of {_req_name(missing.group(1))} fits")
        tried.add(missing.group(1))
        _pure_wheel(missing.group(1), target, wheels)


def resolve_platform(platform: str, wheels: Path) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Every module's resolved set for one platform, and the projects left out (their index unreachable)."""
    target = TARGETS[platform]
    left_out: list[str] = []
    if target.extra_index and (why := reachable(target.extra_index)):
        left_out = [f"{name} ({why})" for name in target.index_only]
    resolved = {}
    for module, requirements in module_sets(platform).items():
        if left_out:
            requirements = [r for r in requirements if _req_name(r) not in target.index_only]
        resolved[module] = resolve(requirements, target, wheels)
    return resolved, left_out


def markdown(results: dict[str, tuple[dict[str, dict[str, str]], list[str]]]) -> str:
    """The resolved versions as one table per platform."""
    lines = ["# Image dependency sets, resolved (scripts/resolve_image_deps.py; nothing installed)", ""]
    for platform, (modules, left_out) in results.items():
        t = TARGETS[platform]
        lines += [f"## {platform}: CPython {t.python}, {t.arch}, glibc 2.{t.glibc_minor}", ""]
        projects = sorted({p for versions in modules.values() for p in versions})
        lines += ["| project | " + " | ".join(modules) + " |", "|---" * (len(modules) + 1) + "|"]
        for p in projects:
            lines.append(f"| {p} | " + " | ".join(v.get(p, "") for v in modules.values()) + " |")
        lines += [f"\nNot resolved: {item}" for item in left_out] + [""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--platform", choices=sorted(TARGETS), action="append")
    parser.add_argument("--write", type=Path, help="write the resolved versions as Markdown here")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as wheels:
        for platform in args.platform or list(TARGETS):
            try:
                results[platform] = resolve_platform(platform, Path(wheels))
            except ResolveError as exc:
                print(f"does not resolve: {exc}", file=sys.stderr)
                return 1
    text = markdown(results)
    if args.write:
        args.write.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
