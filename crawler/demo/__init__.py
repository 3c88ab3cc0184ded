"""crawler/demo."""
