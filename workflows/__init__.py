"""Task layer run inside a PyCOMPSsJob: the task runtime (``workflows.runtime``) and the
bundled workflows. Never imports ``orchestrator``: it must run where only this is installed."""
