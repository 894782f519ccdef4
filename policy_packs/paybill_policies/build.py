"""Publishable packs: each pack folder on its own, installing the rule library at its own version.

    build_wheel(out)        the rule library as a wheel, `paybill_policies-<version>-py3-none-any.whl`:
                            paybill_policies and the pure model it reads (paybill_iac.model), needing
                            only pydantic; no provider SDK, no catalog
    build_pack(pack, out)   out/<pack>/: PulumiPolicy.yaml (its own virtualenv, no path outside the folder),
                            __main__.py, requirements.txt (pulumi-policy and paybill-policies==<version>,
                            found in the folder's wheels/) and wheels/<the library's wheel>

`paybill-iac policy build --out DIR` runs both; `pulumi policy publish DIR/<pack>` publishes the result to
Pulumi Cloud, where policy groups apply it to stacks (the organisation's stacks then need no
`--policy-pack`). The pack takes its context from the policy config only (`paybill-iac policy config`).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

from paybill_policies.pack import PACK_DESCRIPTIONS
from paybill_policies.registry import PACKS

__all__ = ["DISTRIBUTION", "build_pack", "build_wheel", "version"]

DISTRIBUTION = "paybill-policies"
REQUIRES = ("pydantic>=2.14,<3",)
POLICY_REQUIREMENT = "pulumi-policy>=1.21.0,<2"
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # reproducible wheels


def version() -> str:
    """The rule library's version (the project's: a test keeps them equal)."""
    import paybill_policies

    return str(paybill_policies.__version__)


def _sources() -> Iterator[tuple[str, bytes]]:
    """(path in the wheel, content) of the library and the model, sorted."""
    import importlib.util

    import paybill_iac.model
    import paybill_policies

    library = Path(paybill_policies.__file__).parent
    model = Path(paybill_iac.model.__file__).parent
    package = importlib.util.find_spec("paybill_iac")
    assert package is not None and package.origin is not None
    found = {f"paybill_iac/{path.relative_to(model.parent).as_posix()}": path.read_bytes()
             for path in model.rglob("*") if path.suffix in (".py", ".typed") and "__pycache__" not in path.parts}
    found["paybill_iac/__init__.py"] = Path(package.origin).read_bytes()
    found.update({f"paybill_policies/{path.relative_to(library).as_posix()}": path.read_bytes()
                  for path in library.rglob("*") if path.suffix in (".py", ".typed")
                  and "__pycache__" not in path.parts})
    yield from sorted(found.items())


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(out_dir: str | Path) -> Path:
    """Write the rule library's wheel into `out_dir`; returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    release = version()
    info = f"paybill_policies-{release}.dist-info"
    metadata = "\n".join([
        "Metadata-Version: 2.1", f"Name: {DISTRIBUTION}", f"Version: {release}",
        "Summary: The CrossGuard rule library of paybill-iac (plan limits, tenant isolation, agent guardrails)",
        "Requires-Python: >=3.11", *(f"Requires-Dist: {requirement}" for requirement in REQUIRES), "", ""])
    wheel = "Wheel-Version: 1.0\nGenerator: paybill_policies.build\nRoot-Is-Purelib: true\nTag: py3-none-any\n\n"
    files = [*_sources(), (f"{info}/METADATA", metadata.encode()), (f"{info}/WHEEL", wheel.encode())]
    record = [_record_line(name, data) for name, data in files] + [f"{info}/RECORD,,"]
    files.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    target = out / f"paybill_policies-{release}-py3-none-any.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            entry = zipfile.ZipInfo(name, _FIXED_TIME)
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data, zipfile.ZIP_DEFLATED)
    target.write_bytes(buffer.getvalue())
    return target


def _pack_source(pack: str) -> Path:
    """The pack's folder in the source tree (beside the library)."""
    import paybill_policies

    return Path(paybill_policies.__file__).parent.parent / pack


def build_pack(pack: str, out_dir: str | Path, wheel: Path | None = None) -> Path:
    """Write publishable `out_dir/<pack>/` (building the library's wheel unless given); returns the folder."""
    if pack not in PACKS:
        raise ValueError(f"unknown pack '{pack}' (packs: {', '.join(PACKS)})")
    folder = Path(out_dir) / pack
    (folder / "wheels").mkdir(parents=True, exist_ok=True)
    wheel = wheel or build_wheel(Path(out_dir) / ".wheels")
    (folder / "wheels" / wheel.name).write_bytes(wheel.read_bytes())
    release = version()
    (folder / "PulumiPolicy.yaml").write_text(
        f"# CrossGuard pack \"{pack}\" of paybill-iac, built by `paybill-iac policy build`: self-contained, for\n"
        f"# `pulumi policy publish` (or `pulumi preview --policy-pack <this folder>`). Pulumi makes its virtualenv\n"
        f"# (venv/) from requirements.txt; the rule library comes from wheels/ at version {release}.\n"
        "runtime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: venv\n"
        f"version: {release}\ndescription: {json.dumps(PACK_DESCRIPTIONS[pack])}\n", encoding="utf-8")
    (folder / "requirements.txt").write_text(
        f"# The rule library at this pack's version ({release}), from the wheel beside this file.\n"
        f"--find-links wheels\n{POLICY_REQUIREMENT}\n{DISTRIBUTION}=={release}\n", encoding="utf-8")
    (folder / "__main__.py").write_bytes((_pack_source(pack) / "__main__.py").read_bytes())
    return folder
