"""The marketplace's rules and the case model: what may happen to an order or a case."""
