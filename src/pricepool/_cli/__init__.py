"""The parts of the ``pricepool`` command; private, built on pricepool's public API only."""
