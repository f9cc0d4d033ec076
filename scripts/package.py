"""Builds the Lambda artifacts `template.yaml` deploys (`make package`), and prints their sizes.

The template is the source of truth: each distinct `CodeUri` of an `AWS::Serverless::Function`
(`Globals` applied) becomes one directory, built for that function's `Runtime` and
`Architectures` from binary wheels only (`pip install --platform … --only-binary=:all:`), so it
builds on any machine without Docker or AWS. It holds:

- the project's runtime dependencies (pyproject.toml) that the functions use, LAMBDA_DEPENDENCIES,
  with their own dependencies; the rest (strawberry, uvicorn, pyjwt, ...) is the emulator's;
- boto3 and botocore pinned to BUNDLED_SDK (with s3transfer, urllib3, ... as they require): the
  runtime's own boto3 differs by runtime version and region and may predate what the code uses
  (IfNoneMatch on PutObject, botocore >= 1.35.2), and a function's /var/task comes first on its path;
- the project's code: `lambdashare` (from src/), `resolvers/`, `functions/`.

An import smoke test then loads, from the artifact alone, every module a function can reach in AWS,
so a dependency missing from LAMBDA_DEPENDENCIES fails the build rather than a cold start, and checks
that the artifact's botocore is the pinned one and signs IfNoneMatch into a PutObject.

File times are pinned, so the same inputs give the same zip and `sam deploy` uploads nothing new.
Offline with a wheelhouse: `PIP_NO_INDEX=1 PIP_FIND_LINKS=wheelhouse/ make package`.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
PYPROJECT = ROOT / "pyproject.toml"
#: Project code shipped in every artifact: (source directory, name inside the artifact).
CODE = (("src/lambdashare", "lambdashare"), ("resolvers", "resolvers"), ("functions", "functions"))
#: pyproject dependencies the functions import (by distribution name); the others are the emulator's.
LAMBDA_DEPENDENCIES = {"aws-lambda-powertools"}
#: The AWS SDK shipped in the artifact, exactly: within pyproject's boto3 range, botocore >= 1.35.2
#: (the first whose S3 model has IfNoneMatch), boto3 and botocore of one release.
BUNDLED_SDK = ("boto3==1.44.8", "botocore==1.44.8")
#: Lambda's Python runtimes (python3.12+) run on Amazon Linux 2023: glibc 2.34.
MANYLINUX = ("manylinux2014", "manylinux_2_28", "manylinux_2_34")
ARCHES = {"arm64": "aarch64", "x86_64": "x86_64"}
#: Lambda's limit for a function's unzipped code.
MAX_UNZIPPED = 250 * 1024**2
#: File times in the artifact. Zip cannot store dates before 1980, and SAM zips with local time:
#: a date well after 1980 stays valid in every time zone.
PINNED_MTIME = 946_684_800  # 2000-01-01T00:00:00Z


@dataclass(frozen=True, slots=True)
class Artifact:
    code_uri: str
    runtime: str  # "python3.13"
    architecture: str  # "arm64" | "x86_64"
    functions: tuple[str, ...]

    @property
    def path(self) -> Path:
        return ROOT / self.code_uri

    @property
    def python_version(self) -> str:
        match = re.fullmatch(r"python(3\.\d+)", self.runtime)
        if not match:
            raise SystemExit(f"{self.functions}: runtime {self.runtime!r} is not a python3.x runtime")
        return match.group(1)

    @property
    def platforms(self) -> list[str]:
        return [f"{tag}_{ARCHES[self.architecture]}" for tag in MANYLINUX]


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML; short-form intrinsics (!Ref, !Sub, …) become plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _any_tag)


def artifacts(template_path: Path = TEMPLATE) -> list[Artifact]:
    """The directories the template's functions are deployed from, with what to build them for."""
    template = yaml.load(template_path.read_text(encoding="utf-8"), Loader=_CfnLoader)
    defaults = template.get("Globals", {}).get("Function", {})
    by_uri: dict[str, list[tuple[str, str, str]]] = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = {**defaults, **resource.get("Properties", {})}
        code_uri, runtime, arches = props.get("CodeUri"), props.get("Runtime"), props.get("Architectures")
        if not isinstance(code_uri, str) or code_uri.startswith("s3://"):
            raise SystemExit(f"{name}: CodeUri must be a local directory, not {code_uri!r}")
        if not isinstance(arches, list) or len(arches) != 1 or arches[0] not in ARCHES:
            raise SystemExit(f"{name}: Architectures must be [arm64] or [x86_64], not {arches!r}")
        by_uri.setdefault(code_uri.rstrip("/"), []).append((name, runtime, arches[0]))
    built = []
    for code_uri, functions in sorted(by_uri.items()):
        targets = {(runtime, arch) for _, runtime, arch in functions}
        if len(targets) != 1:
            raise SystemExit(f"{code_uri}: its functions disagree on runtime/architecture: {targets}")
        ((runtime, arch),) = targets
        built.append(Artifact(code_uri, runtime, arch, tuple(name for name, _, _ in functions)))
    return built


def _dist_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def requirements() -> list[str]:
    """The requirement strings of LAMBDA_DEPENDENCIES (ranges as pyproject.toml has them), and BUNDLED_SDK."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    chosen = [r for r in project["dependencies"] if _dist_name(r) in LAMBDA_DEPENDENCIES]
    missing = LAMBDA_DEPENDENCIES - {_dist_name(r) for r in chosen}
    if missing:
        raise SystemExit(f"pyproject.toml no longer depends on {sorted(missing)}: update LAMBDA_DEPENDENCIES")
    return [*chosen, *BUNDLED_SDK]


def _copy_code(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for source, name in CODE:
        shutil.copytree(ROOT / source, target / name, ignore=ignore)


def _pin_mtimes(target: Path) -> None:
    for path in [target, *target.rglob("*")]:
        os.utime(path, (PINNED_MTIME, PINNED_MTIME), follow_symlinks=False)


def _zip(target: Path, zip_path: Path) -> None:
    """The zip SAM would make of the directory (deterministic: sorted, pinned times)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in target.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(target)), date_time=(2000, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    zip_path.write_bytes(buffer.getvalue())


#: What a function can import in AWS: the handlers, and every module of these packages.
SMOKE_IMPORTS = (
    "resolvers.app",
    "functions.hasher.app",
    "functions.api_key_renewer.app",
    "lambdashare.backends",
    "lambdashare.settings",
)
SMOKE_PACKAGES = ("lambdashare.adapters.aws", "lambdashare.domain", "lambdashare.ports", "resolvers")
_SMOKE_CODE = """
import importlib, pkgutil, sys
sys.path[:0] = [sys.argv[1]]
names = list(sys.argv[2].split(","))
for package in sys.argv[3].split(","):
    module = importlib.import_module(package)
    names += [info.name for info in pkgutil.walk_packages(module.__path__, package + ".")]
for name in names:
    importlib.import_module(name)
print(f"import smoke test: {len(names)} modules load from the artifact")

import botocore, botocore.session
assert botocore.__file__.startswith(sys.argv[1]), botocore.__file__
assert f"botocore=={botocore.__version__}" == sys.argv[4], (botocore.__version__, sys.argv[4])
put_object = botocore.session.get_session().get_service_model("s3").operation_model("PutObject")
assert "IfNoneMatch" in put_object.input_shape.members, "the bundled botocore cannot sign IfNoneMatch"
print(f"bundled SDK: botocore {botocore.__version__}, PutObject signs IfNoneMatch")
"""


def _smoke_test(artifact: Artifact) -> None:
    """Imports what a function can reach in AWS from the artifact alone on this machine's Python
    (no site-packages): catches a dependency the packaging left out, and checks the bundled botocore.
    Extensions compiled for the target platform are skipped by the import system here (wrapt then
    uses its pure-Python code); -B keeps this Python's .pyc files out of the artifact."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "POWERTOOLS_SERVICE_NAME": "smoke",
        "POWERTOOLS_METRICS_NAMESPACE": "smoke",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    (botocore_pin,) = [r for r in BUNDLED_SDK if r.startswith("botocore==")]
    subprocess.run(
        [
            sys.executable,
            "-S",
            "-B",
            "-c",
            _SMOKE_CODE,
            str(artifact.path),
            ",".join(SMOKE_IMPORTS),
            ",".join(SMOKE_PACKAGES),
            botocore_pin,
        ],
        check=True,
        env=env,
    )


def build(artifact: Artifact) -> None:
    target = artifact.path
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    platform_args = [arg for p in artifact.platforms for arg in ("--platform", p)]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",  # .pyc for this machine's Python would be dead weight in Lambda
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            artifact.python_version,
            *platform_args,
            "--target",
            str(target),
            *requirements(),
        ],
        check=True,
    )
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: nothing in Lambda runs them
    _copy_code(target)
    _pin_mtimes(target)


def _mib(size: int) -> str:
    return f"{size / 1024**2:.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-smoke-test", action="store_true", help="skip importing the handlers")
    args = parser.parse_args(argv)
    rows = []
    for artifact in artifacts():
        print(
            f"building {artifact.code_uri}/ for {artifact.runtime} {artifact.architecture} "
            f"({', '.join(artifact.functions)}): {' '.join(requirements())}",
            flush=True,
        )
        build(artifact)
        if not args.no_smoke_test:
            _smoke_test(artifact)
        zip_path = artifact.path.with_suffix(".zip")
        _zip(artifact.path, zip_path)
        files = [p for p in artifact.path.rglob("*") if p.is_file()]
        unzipped = sum(p.stat().st_size for p in files)
        if unzipped > MAX_UNZIPPED:
            raise SystemExit(f"{artifact.code_uri}: {_mib(unzipped)} unzipped, over Lambda's 250 MiB")
        rows.append((artifact.code_uri + "/", len(files), unzipped, zip_path.stat().st_size))
    print(f"\n{'artifact':<20} {'files':>6} {'unzipped':>12} {'zipped':>12}")
    for code_uri, count, unzipped, zipped in rows:
        print(f"{code_uri:<20} {count:>6} {_mib(unzipped):>12} {_mib(zipped):>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
