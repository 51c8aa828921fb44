"""Workload kits that any target can use (generators, final reads), independent of any system."""
