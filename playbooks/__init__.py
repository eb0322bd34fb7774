"""Bundled Ansible playbooks implementing the profile's operations (package data)."""

from pathlib import Path

PLAYBOOKS_DIR = Path(__file__).resolve().parent
