"""A database error never writes the request's values to the log: the engine hides bound
parameters (`hide_parameters=True`), so the driver's message quotes no credential or
personal data."""

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from app.core.db import get_engine


@pytest.fixture
def failing_on() -> Iterator[list[str]]:
    """Any statement bound to one of the listed values fails inside the driver."""
    values: list[str] = []
    engine = get_engine()

    def fail(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
        if any(v in repr(parameters) for v in values):
            raise engine.dialect.loaded_dbapi.OperationalError("forced failure")
        return False

    event.listen(engine, "do_execute", fail)
    try:
        yield values
    finally:
        event.remove(engine, "do_execute", fail)


def test_database_errors_do_not_quote_bound_values(failing_on: list[str]) -> None:
    secret = f"bound-{uuid.uuid4().hex}"
    failing_on.append(secret)
    with get_engine().connect() as connection, pytest.raises(DBAPIError) as raised:
        connection.execute(text("SELECT :value"), {"value": secret})
    message = str(raised.value)
    assert "forced failure" in message  # the error itself is still described
    assert secret not in message


@pytest.mark.parametrize("grant", ["password", "client_credentials"])
def test_failed_login_logs_none_of_the_request(
    client: TestClient,
    failing_on: list[str],
    caplog: pytest.LogCaptureFixture,
    grant: str,
) -> None:
    name, secret = f"probe-{uuid.uuid4().hex[:12]}", f"secret-{uuid.uuid4().hex}"
    failing_on.append(name)
    if grant == "password":
        form = {"grant_type": grant, "username": name, "password": secret}
    else:
        form = {"grant_type": grant, "client_id": name, "client_secret": secret}
    with caplog.at_level(logging.DEBUG):
        response = client.post("/api/v1/auth/token", data=form)
    assert response.status_code >= 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert caplog.records, "the failure was logged"
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    for value in (name, secret):
        assert value not in logged
        assert value not in response.text


def test_prepared_hot_path_statements_hide_bound_values_too() -> None:
    """The prepared statements of app/sharing/fastsql.py run on the driver's cursor and
    wrap its errors themselves; they follow the engine's hide_parameters."""
    from sqlalchemy import bindparam, column, select, table

    from app.sharing.fastsql import Prepared

    secret = f"bound-{uuid.uuid4().hex}"
    missing = table("no_such_table_here", column("x"))
    statement = Prepared(select(missing.c.x).where(missing.c.x == bindparam("v")))
    with get_engine().connect() as connection, pytest.raises(DBAPIError) as raised:
        statement.run(connection, {"v": secret})
    assert "no_such_table_here" in str(raised.value)
    assert secret not in str(raised.value)
