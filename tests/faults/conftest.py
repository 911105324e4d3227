"""Fault tests share the process helpers of tests/fixtures/processes.py."""
