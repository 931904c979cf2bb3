"""Django's PostgreSQL backend, its connection pool checking connections as itsm/postgresql/base.py
says (settings.DATABASES' ENGINE when the pool is on)."""
