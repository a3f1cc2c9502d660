"""Fixed hot-path statements, compiled once per dialect and run on the DBAPI cursor.

`make bench` showed that SQLAlchemy's per-execution work (compiled-cache lookup, parameter
processing, result-proxy setup) costs ~100 µs per statement, several times the statement
itself on SQLite. A `Prepared` statement is an ordinary SQLAlchemy Core construct compiled
by the dialect in use; what it skips is only the per-call bookkeeping. Type handling stays
SQLAlchemy's own: every bind and result value goes through the processors the column types
give for that dialect (UUID as CHAR(32) hex on SQLite and native on PostgreSQL, JSON,
UTC timestamps, enums), so values are exactly what `conn.execute` would send and return.

The statement runs on the connection of the caller's `Connection`, hence inside its
transaction. DBAPI errors are wrapped the way SQLAlchemy wraps them (`DBAPIError`), and a
disconnect invalidates the connection.
"""

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement

_Proc = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    names: tuple[str, ...]  # bind names, in positional order when positional
    defaults: dict[str, Any]  # values of binds fixed in the statement (literals)
    bind_procs: tuple[_Proc, ...]
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]  # result columns to convert
    has_result: bool


class Prepared:
    """A fixed statement; `run(conn, params)` returns its rows as tuples (processed)."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._by_dialect: dict[tuple[str, str], _Compiled] = {}
        self._lock = threading.Lock()

    def _compile(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver)
        found = self._by_dialect.get(key)
        if found is not None:
            return found
        with self._lock:
            compiled: Any = self.statement.compile(dialect=dialect)
            if compiled.positional:
                names = tuple(compiled.positiontup)
            else:
                names = tuple(compiled.bind_names.values())
            if compiled.escaped_bind_names:
                raise ValueError("Prepared statements need plain bind names")
            binds = dict(compiled.binds)
            defaults = {
                name: bind.effective_value
                for name, bind in binds.items()
                if not bind.required and bind.callable is None
            }
            bind_procs = []
            for name in names:
                bind = binds.get(name)
                if bind is not None and getattr(bind, "expanding", False):
                    raise ValueError("Prepared statements take no expanding parameters")
                proc = None if bind is None else bind.type.dialect_impl(dialect)
                bind_procs.append(None if proc is None else proc.bind_processor(dialect))
            result_procs = tuple(
                entry.type.dialect_impl(dialect).result_processor(dialect, None)
                for entry in (compiled._result_columns or ())
            )
            found = _Compiled(
                sql=compiled.string,
                positional=bool(compiled.positional),
                names=names,
                defaults=defaults,
                bind_procs=tuple(bind_procs),
                processed=tuple((i, p) for i, p in enumerate(result_procs) if p is not None),
                has_result=bool(compiled._result_columns),
            )
            self._by_dialect[key] = found
        return found

    def _args(self, c: _Compiled, params: dict[str, Any]) -> Sequence[Any] | dict[str, Any]:
        if c.defaults:
            params = {**c.defaults, **params}
        values = [
            params[n] if proc is None else proc(params[n])
            for n, proc in zip(c.names, c.bind_procs, strict=True)
        ]
        return values if c.positional else dict(zip(c.names, values, strict=True))

    def run(self, conn: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Execute in `conn`'s transaction; the processed rows (empty for no result)."""
        return self._run(conn, [params], many=False)

    def run_many(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Execute once per parameter set (an INSERT of several rows)."""
        self._run(conn, rows, many=True)

    def _run(
        self, conn: Connection, param_sets: list[dict[str, Any]], many: bool
    ) -> list[tuple[Any, ...]]:
        dialect = conn.dialect
        c = self._compile(dialect)
        fairy: Any = conn.connection
        cursor = fairy.cursor()
        args: Any = None
        try:
            try:
                if many:
                    args = [self._args(c, p) for p in param_sets]
                    cursor.executemany(c.sql, args)
                    return []
                args = self._args(c, param_sets[0])
                cursor.execute(c.sql, args)
                raw = cursor.fetchall() if c.has_result else []
            except dialect.loaded_dbapi.Error as exc:
                invalid = dialect.is_disconnect(exc, fairy.dbapi_connection, cursor)
                if invalid:
                    conn.invalidate(exc)
                raise DBAPIError.instance(
                    c.sql,
                    args,
                    exc,
                    dialect.loaded_dbapi.Error,
                    hide_parameters=conn.engine.hide_parameters,
                    connection_invalidated=invalid,
                    dialect=dialect,
                ) from exc
        finally:
            cursor.close()
        if not c.processed:
            return [tuple(r) for r in raw]
        out = []
        for r in raw:
            row = list(r)
            for i, proc in c.processed:
                row[i] = proc(row[i])
            out.append(tuple(row))
        return out
