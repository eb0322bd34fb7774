"""``ModelBinding``: the engine's view of a loaded TOSCA model (see ``binding.Binding``).

Inputs are evaluated with ``orchestrator.tosca.ModelEvalContext`` just before a step runs:
``get_attribute`` sees attributes written by earlier steps (run state first, then the
model's declared values), ``get_operation_output`` sees earlier operation outputs,
``get_input`` sees the execution's workflow inputs before the topology inputs, and
``get_secret`` is resolved at that last moment, its value registered with the redactor.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from orchestrator.core import HostSpec
from orchestrator.engine.artifacts import staged_primary
from orchestrator.engine.binding import RunState, short_interface
from orchestrator.errors import ToscaError
from orchestrator.plan.model import CALL_OPERATION, Step
from orchestrator.redaction import Redactor, is_secret_key
from orchestrator.tosca import ModelEvalContext, ToscaModel
from orchestrator.tosca import functions as fn
from orchestrator.tosca.values import scalar_seconds

__all__ = ["ModelBinding", "URGENCY_POLICY"]

log = logging.getLogger(__name__)

URGENCY_POLICY = "eflows4hpc.policies.Urgency"
ENVIRONMENT = "eflows4hpc.nodes.Environment"
_LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1"})


class ModelBinding:
    """Binds plan steps of ``model`` for one deployment (``workspace`` resolves secrets)."""

    def __init__(
        self,
        model: ToscaModel,
        *,
        workspace: str | Path | None = None,
        urgency: str | None = None,
    ) -> None:
        """``urgency`` (the execution's level, e.g. from an alert) overrides the policies."""
        self.model = model
        self._urgency = urgency
        self.workspace = str(workspace) if workspace is not None else None
        self.redactor = Redactor()
        # Topology inputs named like secrets (db_password, api_token...) flow into
        # operation inputs: hide their values wherever they appear in logs.
        for name, value in model.input_values.items():
            if is_secret_key(name) and isinstance(value, str):
                self.redactor.add(value)

    # -- evaluation -----------------------------------------------------------------------

    def _ctx(self, node: str | None, state: RunState, step: Step | None = None) -> Any:
        def attribute(n: str, name: str) -> Any:
            return state.attributes[n][name]  # KeyError -> the model's declared value

        def output(n: str, interface: str, operation: str, name: str) -> Any:
            return state.operation_outputs[(n, short_interface(interface), operation)][name]

        source = step.source if step is not None else None
        target = step.target if step is not None else None
        req = None
        if step is not None and step.relationship:
            owner = source if source in self.model.nodes else node
            if owner in self.model.nodes:
                req = next(
                    (
                        r
                        for r in self.model.nodes[owner].requirements
                        if step.relationship in (r.name, r.relationship_template, r.relationship)
                        and (target is None or r.target == target)
                    ),
                    None,
                )
            if source is None and node in self.model.nodes:
                source = node
                target = req.target if req is not None else None
        return ModelEvalContext(
            self.model,
            node if node in self.model.nodes else None,
            attribute,
            self._secret,
            output,
            source=source,
            target=target,
            inputs=state.workflow_inputs,
            relationship=req,
        )

    def _secret(self, path: str) -> Any:
        # Deferred: secret back-ends (cryptography, vault clients) only when get_secret is used.
        from orchestrator.executors.secrets import resolve_secret

        value = resolve_secret(path, self.workspace)
        self.redactor.add(str(value))
        return value

    def evaluate_inputs(self, step: Step, state: RunState) -> dict[str, Any]:
        value = fn.evaluate(step.inputs, self._ctx(step.node, state, step))
        self._register_secrets(value)
        return dict(value)

    def _register_secrets(self, value: Any) -> None:
        """Values derived from a secret (concat / join / token of a get_secret) are secrets
        too: register them so a piece shown on its own is masked as well."""
        if fn.is_secret(value):
            self.redactor.add(str(value))
        elif isinstance(value, dict):
            for v in value.values():
                self._register_secrets(v)
        elif isinstance(value, list | tuple):
            for v in value:
                self._register_secrets(v)

    def request_context(self, step: Step, state: RunState) -> dict[str, Any]:
        """Node properties and requirement targets, evaluated best effort (a property that
        cannot be evaluated yet is left out rather than failing an unrelated step)."""
        node_name = step.node or ""
        node = self.model.nodes.get(node_name)
        if node is None:
            return {"node_properties": {}, "requirements": {}, "attributes": {}}
        ctx = self._ctx(node_name, state, step)
        requirements: dict[str, Any] = {}
        for req in node.requirements:
            target = self.model.nodes.get(req.target)
            if target is None or req.name in requirements:
                continue
            requirements[req.name] = {
                "node": req.target,
                "type": target.type,
                "properties": self._values(target.properties, ctx.for_node(req.target)),
                "attributes": dict(state.attributes.get(req.target, {})),
            }
        return {
            "node_properties": self._values(node.properties, ctx),
            "node_type": node.type,
            "requirements": requirements,
            "attributes": dict(state.attributes.get(node_name, {})),
            "urgency": self._urgency or self.urgency(node_name),
            # Clear values, in memory only: PyCOMPSsJob exports them to its job (CONTRACTS §1).
            "workflow_inputs": dict(state.workflow_inputs),
        }

    def _values(self, values: dict[str, Any], ctx: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in values.items():
            try:
                out[key] = fn.evaluate(value, ctx)
            except ToscaError as exc:
                log.debug("property %s not evaluable yet: %s", key, exc)
        self._register_secrets(out)
        return out

    # -- artifacts, hosts, jobs -----------------------------------------------------------

    def artifact(self, step: Step) -> str:
        impl = step.implementation
        if impl is None:
            return ""
        if impl.is_native:
            return impl.primary
        # A playbook relative to the file that declared it (a types file may live elsewhere),
        # else relative to the template; the executor falls back to the bundled playbooks/.
        found = impl.locate(impl.primary, self.model.base_dir)
        if found is None or not found.is_file():
            return impl.primary
        primary = found.resolve()
        if impl.dependencies:
            root = Path(self.workspace or tempfile.gettempdir()) / "artifacts"
            primary = staged_primary(impl, primary, self.model.base_dir, root)
        return str(primary)

    def host(self, step: Step) -> HostSpec:
        """Where a playbook runs: the login node (over SSH) of the Environment the node is
        (or is hosted on) when that site is remote; else the orchestrator host."""
        env = self._environment_of(step.node)
        if env is None:
            return HostSpec()
        props = self._values(self.model.nodes[env].properties, self._ctx(env, RunState()))
        login = str(props.get("login_host") or "localhost")
        if login in _LOCAL_HOSTS:
            return HostSpec()
        key = props.get("ssh_key")
        known = props.get("known_hosts")
        if known:
            known_hosts: str | None = str(Path(str(known)).expanduser())
        else:
            default = Path(self.workspace) / "ssh" / "known_hosts" if self.workspace else None
            known_hosts = str(default) if default else None
        return HostSpec(
            name=f"{env}-login",
            connection="ssh",
            address=login,
            port=int(props.get("ssh_port") or 22),
            user=props.get("user"),
            private_key_file=self._key_file(key) if isinstance(key, str) and key else None,
            known_hosts_file=known_hosts,
        )

    def _environment_of(self, node: str | None) -> str | None:
        """The Environment node ``node`` is, or is hosted on (HostedOn chain)."""
        seen: set[str] = set()
        while node and node in self.model.nodes and node not in seen:
            seen.add(node)
            if self.model.nodes[node].is_a(ENVIRONMENT):
                return node
            node = self.model.host_of(node)
        return None

    def _key_file(self, ref: str) -> str | None:
        """The SSH key file of a secret reference: ``file:PATH`` or a workspace secret."""
        if ref.startswith("file:"):
            return str(Path(ref[5:]).expanduser())
        if self.workspace and not ref.startswith("env:"):
            candidate = Path(self.workspace) / "secrets" / ref
            if candidate.is_file():
                return str(candidate)
        log.warning("ssh_key %s is not a file reference: using the SSH agent / defaults", ref)
        return None

    def output_names(self, step: Step) -> list[str]:
        return list(step.outputs)

    def cancel_step(self, node: str) -> Step | None:
        template = self.model.nodes.get(node)
        op = template.operation("Runnable", "cancel") if template else None
        if op is None or op.implementation is None:
            return None
        return Step(
            id=f"{node}.Runnable.cancel",
            activity=CALL_OPERATION,
            node=node,
            interface=op.interface,
            operation="cancel",
            inputs=dict(op.inputs),
            implementation=op.implementation,
        )

    def job_timeout(self, step: Step) -> float | None:
        """The Urgency policy's ``max_wall_time`` (targeting the node, or untargeted), else
        the operation's own timeout; None lets the engine default apply."""
        for policy in self.model.policies_of_type(URGENCY_POLICY):
            if policy.targets and step.node not in policy.targets:
                continue
            seconds = _seconds(policy.properties.get("max_wall_time"))
            if seconds:
                return seconds
        impl = step.implementation
        return impl.timeout if impl is not None and impl.timeout else None

    def urgency(self, node: str | None = None) -> str | None:
        """The Urgency policy level for ``node`` (a policy targeting it, else an untargeted
        one); with no node, the first level any Urgency policy declares."""
        policies = self.model.policies_of_type(URGENCY_POLICY)
        if node is not None:
            policies = [p for p in policies if not p.targets or node in p.targets]
        for policy in policies:
            level = policy.properties.get("level")
            if isinstance(level, str):
                return level
        return None

    def outputs(self, state: RunState) -> dict[str, Any]:
        """Topology outputs that can be evaluated now (e.g. a job's id exists only once a
        workflow submitted it; such outputs are left out until then)."""
        ctx = self._ctx(None, state)
        values: dict[str, Any] = {}
        for name, out in self.model.outputs.items():
            try:
                values[name] = fn.evaluate(out.value, ctx)
            except ToscaError as exc:
                log.debug("output %s not available yet: %s", name, exc)
        self._register_secrets(values)
        return values


def _seconds(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        return scalar_seconds(value)
    return None
