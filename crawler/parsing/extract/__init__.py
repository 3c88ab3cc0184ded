"""crawler/parsing/extract."""
