"""Benchmarks of budget-bot against the local sandboxes: API economy, Slack responsiveness, scale.

Run them all with `make bench` (`python -m bench`): it prints the tables and writes docs/benchmarks.md.
"""
