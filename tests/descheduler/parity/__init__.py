"""Upstream descheduler v0.36 unit-test tables, transcribed: tensile must decide as upstream does."""
