"""One module per command; each has ``register(app)`` and builds a report of what it prints.

Modules import what their work needs inside it: ``pricepool --help`` imports them all.
"""
