"""Storage: the SQL schema, its migrations, and the background writer."""
