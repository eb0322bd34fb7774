"""Finding and reading a service template: file, directory or CSAR, plus its imports.

A directory or CSAR names its root template in ``TOSCA-Metadata/TOSCA.meta``
(``Entry-Definitions``) or holds exactly one YAML file with a ``topology_template``. Imports
resolve ``eflows4hpc`` to the bundled profile, relative paths against the importing file,
and leave URLs to tosca-parser. Type definitions of every imported file are collected with
the file they came from, so problems in them can be located too.
"""

from __future__ import annotations

import atexit
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import Location, Problem, UsageError, ValidationError
from orchestrator.tosca.yamlloc import LocDict, line_of, load_yaml

__all__ = ["PROFILE_IMPORTS", "TYPE_SECTIONS", "Source", "profile_path", "read_source"]

TYPE_SECTIONS = (
    "node_types",
    "relationship_types",
    "capability_types",
    "interface_types",
    "data_types",
    "artifact_types",
    "policy_types",
    "group_types",
)
# Import names that mean "the bundled eFlows4HPC profile".
PROFILE_IMPORTS = frozenset({"eflows4hpc", "eflows4hpc.yaml", "eflows4hpc.env", "eflows4hpc.nodes"})
_MAX_IMPORT_DEPTH = 20


def profile_path() -> Path:
    """The bundled profile file (package data of ``tosca_types``)."""
    # Deferred: the bundled profiles only when a template imports one.
    import tosca_types

    return tosca_types.PROFILE_DIR / "eflows4hpc.yaml"


@dataclass
class Source:
    """The root template and everything it imports, read but not yet validated."""

    root_file: Path
    base_dir: Path
    tpl: LocDict
    # section -> type name -> (definition, defining file)
    types: dict[str, dict[str, tuple[Any, Path]]] = field(default_factory=dict)
    url_imports: list[Any] = field(default_factory=list)
    profile_files: set[Path] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)


def read_source(path: str | Path) -> Source:
    """Read the template at ``path`` (file, directory, .zip/.csar, .tar.gz/.tgz).

    Raises ``UsageError`` when the path does not exist or names no template, and
    ``ValidationError`` for YAML syntax errors (with line and column).
    """
    p = Path(path)
    if not p.exists():
        raise UsageError(f"no such file or directory: {p}")
    if p.is_dir():
        root = _root_in_dir(p)
    elif _is_archive(p):
        root = _root_in_dir(_extract(p))
    else:
        root = p
    tpl = _read_yaml(root)
    if not isinstance(tpl, LocDict):
        raise ValidationError(
            [Problem("a service template must be a YAML mapping", Location(file=str(root), line=1))]
        )
    source = Source(root_file=root.resolve(), base_dir=root.resolve().parent, tpl=tpl)
    version = tpl.get("tosca_definitions_version")
    if isinstance(version, str) and version.startswith("tosca_2_"):
        return source  # its imports are 2.0 profiles: the loader names the version instead
    _collect_types(source, tpl, root.resolve(), depth=0, seen=set())
    return source


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError([Problem("not a UTF-8 text file", Location(file=str(path)))]) from exc
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    return load_yaml(text, str(path))


def _is_archive(p: Path) -> bool:
    name = p.name.lower()
    return name.endswith((".zip", ".csar", ".tar.gz", ".tgz", ".tar"))


def _extract(archive: Path) -> Path:
    """Unpack a CSAR into a private temporary directory removed at exit."""
    dest = Path(tempfile.mkdtemp(prefix="tosca-csar-"))
    atexit.register(shutil.rmtree, dest, ignore_errors=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    target = (dest / member).resolve()
                    if not target.is_relative_to(dest.resolve()):
                        raise UsageError(f"{archive}: archive member escapes the archive: {member}")
                zf.extractall(dest)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                tf.extractall(dest, filter="data")
        else:
            raise UsageError(f"{archive}: not a zip or tar archive")
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as exc:
        raise UsageError(f"{archive}: cannot unpack the archive: {exc}") from exc
    # A tarball often wraps everything in one top-level directory.
    entries = [e for e in dest.iterdir() if not e.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir() and not (dest / "TOSCA-Metadata").exists():
        return entries[0]
    return dest


def _root_in_dir(d: Path) -> Path:
    meta = d / "TOSCA-Metadata" / "TOSCA.meta"
    if meta.is_file():
        for line in meta.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Entry-Definitions" and value.strip():
                root = d / value.strip()
                if not root.is_file():
                    raise UsageError(f"{meta}: Entry-Definitions file not found: {value.strip()}")
                return root
        raise UsageError(f"{meta}: no Entry-Definitions line")
    candidates = sorted(list(d.glob("*.yaml")) + list(d.glob("*.yml")))
    roots = [c for c in candidates if _looks_like_root(c)]
    if len(roots) == 1:
        return roots[0]
    if not roots:
        raise UsageError(f"{d}: no service template (a YAML file with topology_template) found")
    names = ", ".join(r.name for r in roots)
    raise UsageError(f"{d}: several service templates ({names}); add TOSCA-Metadata/TOSCA.meta")


def _looks_like_root(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "tosca_definitions_version" in text and "topology_template" in text


def _collect_types(source: Source, tpl: LocDict, file: Path, depth: int, seen: set[Path]) -> None:
    seen.add(file)
    imports = tpl.get("imports") or []
    if not isinstance(imports, list):
        source.problems.append(
            Problem(
                "'imports' must be a list", Location(file=str(file), line=line_of(tpl, "imports"))
            )
        )
        imports = []
    for entry in imports:
        _import_one(source, tpl, entry, file, depth, seen)
    for section in TYPE_SECTIONS:
        defs = tpl.get(section)
        if defs is None:
            continue
        if not isinstance(defs, dict):
            loc = Location(file=str(file), line=line_of(tpl, section))
            source.problems.append(Problem(f"'{section}' must be a mapping", loc))
            continue
        bucket = source.types.setdefault(section, {})
        for name, definition in defs.items():
            bucket[str(name)] = (definition, file)


def _import_one(
    source: Source, tpl: LocDict, entry: Any, file: Path, depth: int, seen: set[Path]
) -> None:
    line = getattr(tpl.get("imports"), "line", None) or line_of(tpl, "imports")
    loc = Location(file=str(file), line=line, field="imports")
    ref = entry.get("file") if isinstance(entry, dict) else entry
    if isinstance(entry, dict) and len(entry) == 1 and "file" not in entry:
        # TOSCA 1.0 named import: {name: path} or {name: {file: path}}.
        (value,) = entry.values()
        ref = value.get("file") if isinstance(value, dict) else value
    if not isinstance(ref, str) or not ref:
        source.problems.append(Problem(f"invalid import entry: {entry!r}", loc))
        return
    if ref in PROFILE_IMPORTS:
        target = profile_path()
        source.profile_files.add(target)
    elif "://" in ref:
        source.url_imports.append(entry)
        return
    else:
        target = (file.parent / ref).resolve()
    if target in seen:
        return
    if depth >= _MAX_IMPORT_DEPTH:
        source.problems.append(Problem("imports nested too deeply", loc))
        return
    if not target.is_file():
        source.problems.append(Problem(f"imported file not found: {ref}", loc))
        return
    imported = _read_yaml(target)
    if not isinstance(imported, LocDict):
        source.problems.append(Problem(f"imported file is not a YAML mapping: {ref}", loc))
        return
    _collect_types(source, imported, target, depth + 1, seen)
