"""Storage adapter: SQLAlchemy Core tables, the database/unit of work, repositories and Alembic migrations.

Portable SQL only (SQLite is the embedded default; the same schema runs on PostgreSQL).
"""
