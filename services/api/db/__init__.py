"""SQLite (or another SQLAlchemy database) owned by the API alone."""
