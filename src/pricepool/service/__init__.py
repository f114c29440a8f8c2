"""pricepool serve: one cache and one rate limit for every app in the house."""
