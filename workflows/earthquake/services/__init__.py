"""UCIS4EQ-style urgent seismic microservices (see ``app``).

Run them with ``python -m workflows.earthquake.services --state DIR``.
"""
