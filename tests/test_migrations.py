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


def test_mail_waiting_or_sent_before_per_recipient_results_keeps_its_recipients(
    empty_database_url,
):
    migrating = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "SECRET_KEY": "x"})
    with migrating.app_context():
        upgrade(revision="38dff12f7be2")  # the last one before outbox_recipients
        with db.engine.begin() as connection:
            for mail_id, recipients, sent_at in [
                (1, "taro@example.jp, taro-sub@example.com", "2026-11-21 03:00:00+00"),
                (2, "hanako@example.jp", None),
            ]:
                connection.execute(
                    text(
                        "INSERT INTO outbox_mails (id, kind, recipients, subject, body,"
                        " created_at, next_attempt_at, attempts, sent_at) VALUES"
                        " (:id, 'bill', :recipients, '件名', '本文',"
                        " '2026-11-21 02:55:00+00', '2026-11-21 02:55:00+00', 0, :sent_at)"
                    ),
                    {"id": mail_id, "recipients": recipients, "sent_at": sent_at},
                )
        upgrade()
        with db.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT mail_id, address, status, answered_at IS NOT NULL"
                    " FROM outbox_recipients ORDER BY id"
                )
            ).all()
        assert [tuple(row) for row in rows] == [
            (1, "taro@example.jp", "accepted", True),
            (1, "taro-sub@example.com", "accepted", True),
            (2, "hanako@example.jp", "pending", False),
        ]
        downgrade(revision="38dff12f7be2")  # and back, with the data in place
        assert "outbox_recipients" not in inspect(db.engine).get_table_names()
        db.engine.dispose()


def test_domains_registered_before_the_locks_are_locked_with_an_authcode_each(
    empty_database_url,
):
    migrating = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "SECRET_KEY": "x"})
    with migrating.app_context():
        upgrade(revision="7a3e5c2d9b14")  # the last one before domain settings
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO customers (id, member_id, name, kind, contract_email,"
                    " notify_40_days_before, credit_limit, created_at)"
                    " VALUES (1, 'taro', '山田 太郎', 'individual', 'taro@example.jp', false, 0,"
                    " '2026-11-21 00:00:00+00')"
                )
            )
            for contract_id, name in ((1, "taro.net"), (2, "taro.com")):
                connection.execute(
                    text(
                        "INSERT INTO contracts (id, customer_id, kind, name, tld, renewal_date,"
                        " is_trial, domains_used, mail_accounts_used, created_at) VALUES"
                        " (:id, 1, 'domain', :name, :tld, '2027-01-31', false, 0, 0,"
                        " '2026-11-21 00:00:00+00')"
                    ),
                    {"id": contract_id, "name": name, "tld": name.split(".")[1]},
                )
        upgrade()
        with db.engine.connect() as connection:
            policy = connection.execute(text("SELECT domain_policy FROM customers")).scalar()
            domains = connection.execute(
                text(
                    "SELECT transfer_locked, update_locked, delete_locked, auth_code,"
                    " domain_policy, lapsed_on FROM contracts ORDER BY id"
                )
            ).all()
        assert policy == "auto_renew"
        assert [tuple(row[:3]) for row in domains] == [(True, True, True)] * 2
        codes = [row[3] for row in domains]
        assert all(len(code) == 16 for code in codes) and codes[0] != codes[1]
        assert [row[4:] for row in domains] == [(None, None)] * 2
        db.engine.dispose()
