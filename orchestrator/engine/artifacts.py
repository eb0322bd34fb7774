"""An operation's artifacts laid out as the playbook expects them: the primary beside its
``dependencies``.

TOSCA 1.3 (3.6.16, operation implementation definition) lets an operation list dependency
artifacts next to its primary one; an orchestrator makes them available where the primary
runs. xOpera, the peer most templates are written against, copies the primary and each
dependency, by base name, into one directory and runs the playbook there, so a playbook
refers to a dependency by its base name (``include_tasks: common.yaml``, ``src: app.conf``)
wherever it lives in the CSAR. We do the same with symbolic links (nothing is copied, and a
changed file is picked up), in a directory that also links every entry of the playbook's own
directory, so the playbook's usual relative references (``templates/``, ``files/``, other
playbooks) keep working. A dependency wins over an entry of the same name.

The directory is named after a digest of the resolved paths and built once, atomically (a
new directory renamed into place), so concurrent operations share it safely.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from orchestrator.core import Implementation
from orchestrator.errors import ToscaError

__all__ = ["staged_primary"]


def staged_primary(
    impl: Implementation, primary: Path, template_dir: str | Path | None, root: Path
) -> Path:
    """The path of ``primary`` inside the staged directory (under ``root``) holding it and
    ``impl``'s dependencies; built if missing."""
    deps: list[Path] = []
    for ref in impl.dependencies:
        found = impl.locate(ref, template_dir)
        if found is None:  # validation reports this first; a file removed since lands here
            raise ToscaError(f"dependency '{ref}' of '{impl.primary}' not found")
        deps.append(found.resolve())
    primary = primary.resolve()
    digest = hashlib.sha256("\0".join(map(str, [primary, *deps])).encode()).hexdigest()[:16]
    target = root / digest
    if not target.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        fresh = Path(tempfile.mkdtemp(prefix=".stage-", dir=root))
        links: dict[str, Path] = {e.name: e for e in primary.parent.iterdir()}
        links.update({d.name: d for d in deps})
        for name, source in links.items():
            (fresh / name).symlink_to(source)
        try:
            os.rename(fresh, target)
        except OSError:  # another operation built it first: use theirs
            for entry in fresh.iterdir():
                entry.unlink()
            with contextlib.suppress(OSError):
                fresh.rmdir()
    return target / primary.name
