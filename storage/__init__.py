"""Storage: the data's shape (models) and the only place with SQL."""
