"""Tsunami solver accuracy: the verification problems of ``workflows.tsunami.verification``
at both scheme orders, side by side in one run, with the first-order figure as the baseline.

- grid refinement on a smooth problem (100, 200, 400 cells against a 1600-cell run): L1
  errors of eta and hu and the observed orders (target: >= 1.8 at second order);
- Stoker's dam break: L1 error of the depth;
- a long wave: crest speed against sqrt(g h), and the crest height left after 300 s of a
  5 mm wave (how much the scheme flattens a travelling peak);
- Synolakis' solitary-wave runup on a 1:19.85 beach against the analytic runup.

Needs no data files. Progress on stderr; the last stdout line is one JSON object.
Run: ``.venv/bin/python benchmarks/tsunami_accuracy.py``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workflows.tsunami import verification  # noqa: E402

ORDERS = (1, 2)


def figures(order: int) -> dict:
    study = verification.refinement_study(order)
    stoker = verification.stoker_dam_break(order)
    speed, expected_speed, crest = verification.long_wave_speed(order)
    runup, expected_runup = verification.synolakis_runup(order)
    return {
        "refinement_sizes": list(study.sizes),
        "eta_l1_errors": [float(f"{e:.3g}") for e in study.eta_errors],
        "eta_orders": [round(o, 2) for o in study.eta_orders],
        "hu_l1_errors": [float(f"{e:.3g}") for e in study.hu_errors],
        "hu_orders": [round(o, 2) for o in study.hu_orders],
        "stoker_l1_relative": round(stoker, 5),
        "wave_speed_error": round(speed / expected_speed - 1.0, 5),
        "crest_after_300s_m": round(crest, 5),
        "synolakis_runup_m": round(runup, 4),
        "synolakis_analytic_m": round(expected_runup, 4),
        "synolakis_error": round(runup / expected_runup - 1.0, 4),
    }


def main() -> None:
    out: dict = {}
    for order in ORDERS:
        t = time.perf_counter()
        out[f"order_{order}"] = f = figures(order)
        sys.stderr.write(
            f"[bench] order {order} ({time.perf_counter() - t:.0f} s): eta errors "
            f"{f['eta_l1_errors']} orders {f['eta_orders']}; Stoker "
            f"{f['stoker_l1_relative']:.3%}; wave speed {f['wave_speed_error']:+.3%}, crest "
            f"{f['crest_after_300s_m'] * 1000:.2f} mm; runup {f['synolakis_error']:+.1%}\n"
        )
    first, second = out["order_1"], out["order_2"]
    out["ratios_order_1_over_order_2"] = {
        "finest_eta_error": round(first["eta_l1_errors"][-1] / second["eta_l1_errors"][-1], 1),
        "stoker_error": round(first["stoker_l1_relative"] / second["stoker_l1_relative"], 1),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
