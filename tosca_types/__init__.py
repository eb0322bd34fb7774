"""The eFlows4HPC TOSCA profile, shipped as package data so an installed wheel finds it."""

from pathlib import Path

PROFILE_DIR = Path(__file__).resolve().parent
