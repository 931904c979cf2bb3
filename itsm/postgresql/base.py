"""Django's PostgreSQL backend, its pool recovering at once from a PostgreSQL restart."""

from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool


def check_connection(conn) -> None:
    """A round trip on `conn` before the pool hands it out; when it fails, the same check of
    every idle connection in the pool, which drops the dead ones and opens new ones. One dead
    connection means PostgreSQL restarted and every idle one died with it: psycopg alone tries
    them one at a time, sleeping 1, 2, 4… seconds in between while the request waits, so that
    after a restart requests time out (10 s, then a 500) until each dead one has been tried."""
    try:
        ConnectionPool.check_connection(conn)
    except Exception:
        conn._pool.check()  # psycopg sets _pool on a connection it is handing out
        raise


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        """Django's pool (made with psycopg's own check when CONN_HEALTH_CHECKS is on), with
        check_connection as its check. Django passes psycopg's pool no check of one's own."""
        pool = super().pool
        if pool is not None:
            pool._check = check_connection
        return pool


def prepared_cursor(connection):
    """A cursor of `connection` whose statements PostgreSQL prepares on their first use on the
    connection (server-side binding; settings' `prepare_threshold`), so that one plan serves
    every later run: for a statement run often that takes longer to plan than to run. Django's
    own cursors bind parameters on the client and are never prepared. psycopg deallocates a
    connection's prepared statements at any rollback on it, a savepoint's included, and
    prepares them again on their next use. Behind PgBouncer (`prepare_threshold` None) the
    statements run unprepared."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        # Django's wrapping of a cursor it made (query logging, execute wrappers).
        return connection._prepare_cursor(PreparedStatementCursor(connection.connection))


class PreparedStatementCursor(base.ServerBindingCursor):
    """Keeps each statement where Django's query log reads it (`_query`), as the client-side
    cursors do: psycopg leaves it unset when it runs a prepared statement, and the log showed
    None. The log shows the statement with `$1`… where the values go."""

    def _convert_query(self, query, params=None):
        self._query = super()._convert_query(query, params)
        return self._query
