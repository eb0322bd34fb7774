"""The ``tosca`` command line (typer). See ``orchestrator.cli.main``."""
