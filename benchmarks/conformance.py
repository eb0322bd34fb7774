"""Conformance report: which service templates of a directory ours and stock tosca-parser
accept, and why each rejection.

    python benchmarks/conformance.py [DIR]     # default: the vendored xOpera corpus

A template is each ``service*.yaml`` (with an ``inputs.yaml`` beside it when there is
one). "Stock" is tosca-parser's own ``ToscaTemplate`` on the file as written (it rejects
topology ``workflows:`` and some 1.3 syntax by design; that is what a user of it meets).
Last output line: one JSON object.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "tests" / "conformance" / "templates" / "xopera"


def ours(path: Path) -> str | None:
    from orchestrator.errors import ToscaError
    from orchestrator.tosca.loader import load

    inputs_file = path.with_name("inputs.yaml")
    inputs = None
    if inputs_file.exists():
        import yaml

        inputs = yaml.safe_load(inputs_file.read_text()) or {}
    try:
        load(path, inputs)
    except ToscaError as exc:
        return str(exc).splitlines()[0]
    return None


def stock(path: Path) -> str | None:
    from toscaparser.tosca_template import ToscaTemplate

    logging.getLogger("tosca").setLevel(logging.CRITICAL)
    try:
        ToscaTemplate(str(path))
    except Exception as exc:  # noqa: BLE001 - any rejection or crash is a finding here
        return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    return None


def main() -> int:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    templates = sorted(folder.rglob("service*.yaml"))
    rows = []
    for path in templates:
        name = str(path.relative_to(folder))
        a, b = ours(path), stock(path)
        rows.append({"template": name, "ours": a or "accepted", "stock": b or "accepted"})
        print(f"{name}\n  ours:  {a or 'accepted'}\n  stock: {(b or 'accepted')[:160]}")
    accepted_ours = sum(r["ours"] == "accepted" for r in rows)
    accepted_stock = sum(r["stock"] == "accepted" for r in rows)
    print(f"{len(rows)} templates: ours accepts {accepted_ours}, stock tosca-parser "
          f"{accepted_stock}")  # fmt: skip
    print(json.dumps({"templates": len(rows), "ours_accepted": accepted_ours,
                      "stock_accepted": accepted_stock, "rows": rows}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
