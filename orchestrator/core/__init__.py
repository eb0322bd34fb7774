"""The bottom layer: types every other layer shares (implementations, hosts), importing
nothing of the orchestrator but its errors. See scripts/check_layers.py for the order."""

from orchestrator.core.hosts import HostSpec
from orchestrator.core.implementation import Implementation

__all__ = ["HostSpec", "Implementation"]
