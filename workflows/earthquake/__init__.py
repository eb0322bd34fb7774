"""Earthquake alerts (``alerts``: USGS GeoJSON, EMSC, QuakeML, UCIS4EQ -> one ``Event``) and
magnitude scaling laws (``scaling``: moment, rupture size, slip). Imports nothing heavy."""

__all__: list[str] = []
