"""UCIS4EQ-style urgent seismic microservices (see ``app``); run with ``python -m workflows.earthquake.services``."""
