"""Marketplace customer-support bot for Telegram."""
