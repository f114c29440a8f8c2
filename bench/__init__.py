"""pricepool's benchmark suite: ``python -m bench`` prints a table and writes JSON.

Each module measures one area of issue 6 and returns rows; ``__main__`` runs them, judges
the figures that have a budget and never asserts a timing.
"""
