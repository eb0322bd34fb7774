"""The job: records its argv and environment as JSON next to itself (``RECORD_TO``)."""

import json
import os
import sys

out = os.path.join(os.environ["out_dir"], "job.json")  # noqa: SIM112 (a workflow input)
with open(out, "w") as handle:
    json.dump({"argv": sys.argv[1:], "env": dict(os.environ)}, handle)
