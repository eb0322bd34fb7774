"""How an operation is implemented: what the template declares, what executors run."""

from __future__ import annotations

from dataclasses import dataclass


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

    @property
    def is_native(self) -> bool:
        return self.primary.startswith("native://") or (
            self.artifact_type is not None and self.artifact_type.endswith(".Native")
        )
