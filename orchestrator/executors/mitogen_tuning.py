"""Start-up and placement settings of mitogen for the warm Ansible worker.

Three defaults of ansible-mitogen that suit one long ``ansible-playbook`` on a large
controller cost the short-lived, per-deployment worker dearly (measured on 2 cores):

* CPU pinning: ansible-mitogen pins its multiplexer to CPU 0 and "the top-level process"
  (our worker) plus every interpreter it starts to the other CPUs; with 2 CPUs that is
  CPU 1 for everything but the multiplexer, so two workers running a big batch in parallel
  shared ONE core (seen in ``/proc/PID/status``). ``no_cpu_pinning`` leaves placement to
  the kernel.
* Minification: the multiplexer strips comments and docstrings from mitogen's core and
  from every module it serves to a new interpreter, with ``tokenize``, once per process,
  i.e. once per worker: ~0.3 s of CPU before the first task. ``no_minify`` sends the
  sources as they are (a few more KiB through a pipe, or an SSH channel).
* Served imports: a new interpreter gets Ansible and ansible-mitogen from the multiplexer
  (which compiles every module's source to find its imports, compresses it, and the target
  compiles it again) instead of importing them from disk. That protects a remote host from
  a different local copy; a LOCAL target running this very interpreter (same executable,
  same site-packages) has exactly the files the multiplexer would send. ``local_imports``
  lets such a target import them itself (byte-code caches included) and skips pushing the
  usual modules to it: ~0.4 s less before the first task.
* Lazy connection: the local target interpreter (and its imports) starts only when the
  first task asks for it. ``preconnect_local`` asks for it from a background thread as soon
  as the multiplexer exists, so it boots while the worker itself still loads Ansible.

None of these change what runs: modules still execute through mitogen in the same target
interpreter, from the same files.
"""

from __future__ import annotations

import logging
import sys
import threading
import weakref
from typing import Any

__all__ = ["local_imports", "no_cpu_pinning", "no_minify", "preconnect_local"]

logger = logging.getLogger(__name__)


def no_cpu_pinning() -> None:
    """Replace ansible-mitogen's CPU affinity policy by its no-op base policy."""
    # Deferred: optional package: mitogen is used when installed.
    import ansible_mitogen.affinity

    ansible_mitogen.affinity.policy = ansible_mitogen.affinity.Policy()


def no_minify() -> None:
    """Serve mitogen's and Ansible's sources to new interpreters without minifying them."""
    # Deferred: optional package: mitogen is used when installed.
    import mitogen.core
    import mitogen.minify

    mitogen.minify.minimize_source = mitogen.core.to_text  # type: ignore[assignment]


# Contexts (in the multiplexer) of local targets that import from disk: nothing to push.
_SELF_IMPORTING: weakref.WeakSet[Any] = weakref.WeakSet()


def local_imports(python: str = sys.executable) -> None:
    """Local targets running ``python`` (this interpreter) import from their own disk.

    Applies to mitogen's plain local connections only (not SSH, not sudo / su), and only
    when the target's interpreter path is exactly ``python``; any other target is served
    as before. Call it before the multiplexer is forked (it inherits the change).
    """
    # Deferred: optional package: mitogen is used when installed.
    import ansible_mitogen.services
    import mitogen.parent

    local_conn = mitogen.parent.Connection
    get_config = local_conn.get_econtext_config

    def econtext_config(self: Any) -> dict[str, Any]:
        config: dict[str, Any] = get_config(self)
        if type(self) is local_conn and self.get_python_argv() == [python]:
            config["import_overrides"] = []  # nothing is forced to come from the parent
            _SELF_IMPORTING.add(self.context)
        return config

    service = ansible_mitogen.services.ContextService
    send_forwards = service._send_module_forwards

    def module_forwards(self: Any, context: Any) -> None:
        if context not in _SELF_IMPORTING:
            send_forwards(self, context)

    local_conn.get_econtext_config = econtext_config  # type: ignore[method-assign]
    service._send_module_forwards = module_forwards  # type: ignore[method-assign]


def local_stack(python: str) -> list[dict[str, Any]]:
    """The connection stack ansible-mitogen builds for ``ansible_connection: local`` with
    ``ansible_python_interpreter: python``: equal stacks share one target interpreter."""
    return [{"method": "local", "kwargs": {"python_path": [python]}}]


def preconnect_local(python: str = sys.executable) -> threading.Thread | None:
    """Fork the multiplexer now and boot the local target interpreter in the background.

    Call it from the main thread (it forks) once Ansible's plugin loader is initialised, and
    join the returned thread before the first task connects: the thread uses the worker's
    one binding to the multiplexer, which a task's ``close()`` tears down. Returns None when
    ansible-mitogen is not importable. A failure is only logged: the first task then
    connects as it would have anyway.
    """
    try:
        # Deferred: optional package: mitogen is used when installed.
        import ansible_mitogen.process
        import mitogen.service
    except ImportError:
        return None
    model = ansible_mitogen.process.get_classic_worker_model()
    stack = local_stack(python)

    def connect() -> None:
        try:
            binding = model.get_binding("tosca-preconnect")
            # The multiplexer's ContextService keeps the interpreter, keyed by stack.
            mitogen.service.call(
                call_context=binding.get_service_context(),
                service_name="ansible_mitogen.services.ContextService",
                method_name="get",
                stack=stack,
            )
        except Exception as exc:  # the first task connects by itself
            logger.warning("mitogen pre-connect failed: %s", exc)

    thread = threading.Thread(target=connect, name="mitogen-preconnect", daemon=True)
    thread.start()
    return thread
