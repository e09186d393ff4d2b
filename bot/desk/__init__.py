"""The agents' side: the case card, the handoff to forum topics, delivery to Telegram,
the scheduler."""
