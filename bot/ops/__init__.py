"""Operator tools: importing orders, demo orders, deep links."""
