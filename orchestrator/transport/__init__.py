"""Running commands here or on a site's login node over SSH (strict host keys).

Below the schedulers and the executors, above ``orchestrator.core``; see
scripts/check_layers.py for the order.
"""
