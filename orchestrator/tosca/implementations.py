"""Validate-time checks of operation implementations (without running or importing them).

An implementation's ``primary`` is either a playbook path or ``native://module:function``
(see the cross-team conventions):

* a playbook must exist relative to the file that declared it (``Implementation.base_dir``),
  the template / CSAR directory, or the bundled ``playbooks/`` package (the order the engine
  and the Ansible executor resolve it in);
* a native reference must be well formed (dotted identifiers, a function identifier) and
  its module file findable: the top-level package is located with
  ``importlib.util.find_spec`` (which imports nothing for a top-level name) and the rest of
  the dotted path is looked up as files under the package's directories, so nothing is
  imported at validate time.

``implementation_problem`` returns a message (None when the implementation is fine).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import keyword
import sys
from functools import lru_cache
from pathlib import Path

from orchestrator.core import Implementation

__all__ = ["NATIVE_SCHEME", "implementation_problem", "module_findable", "parse_native"]

NATIVE_SCHEME = "native://"


def _identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def parse_native(primary: str) -> tuple[str, str] | str:
    """``native://pkg.mod:fn`` -> ``(module, function)``, or a message saying what is wrong."""
    ref = primary[len(NATIVE_SCHEME) :]
    module, sep, function = ref.partition(":")
    if not sep:
        return f"native implementation {primary!r} needs the form native://module:function"
    if not module or not all(_identifier(part) for part in module.split(".")):
        return f"native implementation {primary!r}: {module!r} is not a dotted module path"
    if not _identifier(function):
        return f"native implementation {primary!r}: {function!r} is not a function name"
    return module, function


@lru_cache(maxsize=256)
def module_findable(module: str) -> bool:
    """Whether ``module``'s file (or package directory) exists, importing nothing."""
    top, *rest = module.split(".")
    loaded = sys.modules.get(top)
    if loaded is not None:
        locations = list(getattr(loaded, "__path__", []) or [])
        is_package = hasattr(loaded, "__path__")
    else:
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            return False
        if spec is None:
            return False
        locations = list(spec.submodule_search_locations or [])
        is_package = spec.submodule_search_locations is not None
    if not rest:
        return True
    if not is_package:
        return False
    suffixes = importlib.machinery.all_suffixes()
    for i, part in enumerate(rest):
        last = i == len(rest) - 1
        found: list[str] = []
        for location in locations:
            base = Path(location)
            if not base.is_dir():
                return True  # a zip or custom loader: cannot tell without importing
            if (base / part).is_dir():
                found.append(str(base / part))
            elif last and any((base / f"{part}{s}").is_file() for s in suffixes):
                return True
        if not found:
            return False
        locations = found
    return True  # the last part is a package directory


def implementation_problem(impl: Implementation, template_dir: Path | str | None) -> str | None:
    """Why ``impl`` cannot run (a message), or None when it resolves."""
    primary = impl.primary
    if primary.startswith(NATIVE_SCHEME):
        parsed = parse_native(primary)
        if isinstance(parsed, str):
            return parsed
        module, _ = parsed
        if not module_findable(module):
            return f"native implementation {primary!r}: module '{module}' not found"
        return None
    if "://" in primary:
        return f"implementation {primary!r} is neither a playbook path nor native://module:function"
    for dep in impl.dependencies:
        if not dep or impl.locate(dep, template_dir) is None:
            looked = ", ".join(dict.fromkeys(str(b) for b in (impl.base_dir, template_dir) if b))
            return f"dependency '{dep}' of '{primary}' not found (looked in {looked})"
    found = impl.locate(primary, template_dir)
    if found is not None and found.is_file():
        return None
    path = Path(primary)
    if path.is_absolute():
        return f"playbook '{primary}' not found (nor from the template's root directory)"
    # Deferred: the playbooks package only when a bundled playbook is looked up.
    from playbooks import PLAYBOOKS_DIR

    if (PLAYBOOKS_DIR / path).is_file():
        return None
    bases = [b for b in (impl.base_dir, template_dir) if b] + [PLAYBOOKS_DIR]
    tried = ", ".join(dict.fromkeys(str(Path(b)) for b in bases))
    return f"playbook '{primary}' not found (looked in {tried})"
