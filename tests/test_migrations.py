"""The migrations build exactly the models' schema, on the database under test, and undo it."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from panel import create_app
from panel.extensions import db


@pytest.fixture
def empty_database_url(app, tmp_path):
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "postgresql":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    scratch = url.set(database=f"{url.database}_migrations")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{scratch.database}"'))
    yield scratch.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch.database}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_builds_the_models_schema_and_downgrade_removes_it(empty_database_url):
    migrating = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "SECRET_KEY": "x"})
    with migrating.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []

        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) == {"alembic_version"}

        upgrade()  # and back up again: the round trip leaves nothing behind
        assert set(inspect(db.engine).get_table_names()) == (
            set(db.metadata.tables) | {"alembic_version"}
        )
        db.engine.dispose()


def test_upgrading_a_database_that_holds_data_keeps_it(empty_database_url):
    migrating = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "SECRET_KEY": "x"})
    with migrating.app_context():
        upgrade(revision="8ee587f4609d")  # the first revision
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO customers (id, member_id, name, kind, contract_email,"
                    " notify_40_days_before, credit_limit, created_at)"
                    " VALUES (1, 'taro', '山田 太郎', 'individual', 'taro@example.jp', false, 0,"
                    " '2026-11-21 00:00:00+00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO bills (id, bill_no, customer_id, kind, status, payment_method,"
                    " issued_on, due_date, created_at) VALUES (1, '20261121-0001', 1, 'renewal',"
                    " 'awaiting_payment', 'card', '2026-11-21', '2026-11-28',"
                    " '2026-11-21 00:00:00+00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO bill_lines (bill_id, position, kind, description, amount,"
                    " tax_rate) VALUES (1, 1, 'renewal', 'taro.jp 1年 更新', 12540, 10)"
                )
            )
        upgrade()
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM bill_lines")).scalar() == 1
            assert connection.execute(text("SELECT bill_no FROM bills")).scalar() == (
                "20261121-0001"
            )
        db.engine.dispose()
