"""How an operation is implemented: what the template declares, what executors run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Implementation:
    """How an operation is implemented.

    ``primary`` is the artifact: a playbook path (resolved against ``base_dir``, then the
    bundled ``playbooks/``) or ``native://package.module:function`` for steps that must not
    start Ansible (Slurm submit, HTTP calls). ``artifact_type`` is the TOSCA artifact type
    when the template declared one.
    """

    primary: str
    artifact_type: str | None = None
    dependencies: tuple[str, ...] = ()
    timeout: float | None = None
    base_dir: str | None = None

    def locate(self, ref: str, template_dir: str | Path | None) -> Path | None:
        """The file ``ref`` (the primary or a dependency) names: relative to the file that
        declared the implementation, else to the template / CSAR directory; a path written
        from the CSAR root (``/modules/x.yaml``) is tried under the template directory too.
        None when it is nowhere (the bundled ``playbooks/`` are the executors' business)."""
        path = Path(ref)
        if path.is_absolute():
            if path.exists():
                return path
            rooted = Path(template_dir) / ref.lstrip("/") if template_dir else None
            return rooted if rooted is not None and rooted.exists() else None
        for base in (self.base_dir, template_dir):
            if base and (Path(base) / path).exists():
                return Path(base) / path
        return None

    @property
    def is_native(self) -> bool:
        return self.primary.startswith("native://") or (
            self.artifact_type is not None and self.artifact_type.endswith(".Native")
        )
