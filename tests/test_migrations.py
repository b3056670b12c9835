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
