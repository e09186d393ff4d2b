"""What buyers see and tap across dialogs: callback data, keyboards, shared texts and replies."""
