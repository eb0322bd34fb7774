"""Test suite (a package only so that tests/ never shadows the real top-level packages)."""
