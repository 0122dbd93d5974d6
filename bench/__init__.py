"""`make bench`: seed a throwaway database, time each endpoint beside a bare baseline, print ratios.

Run with `python -m bench` (see bench/README.md); figures are merged into bench/results.json.
"""
