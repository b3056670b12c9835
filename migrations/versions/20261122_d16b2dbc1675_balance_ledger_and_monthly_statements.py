"""balance: the append-only ledger and the monthly statements

Revision ID: d16b2dbc1675
Revises: 06592717e876
Create Date: 2026-11-22 07:15:04.185874

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "d16b2dbc1675"
down_revision = "06592717e876"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("balance_after", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("bill_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('deposit', 'purchase', 'settlement', 'refund', 'correction')",
            name=op.f("ck_ledger_entries_kind"),
        ),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_entries_amount_not_zero")),
        sa.ForeignKeyConstraint(
            ["bill_id"], ["bills.id"], name=op.f("fk_ledger_entries_bill_id_bills")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_ledger_entries_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("customer_id", "cause", name=op.f("uq_ledger_entries_customer_id")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_entries_customer_id_id", ["customer_id", "id"], unique=False
        )

    op.create_table(
        "balance_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=False),
        sa.Column("opening_balance", sa.Integer(), nullable=False),
        sa.Column("closing_balance", sa.Integer(), nullable=False),
        sa.Column("credit_limit", sa.Integer(), nullable=False),
        sa.Column("last_entry_id", sa.Integer(), nullable=True),
        sa.Column("settlement_bill_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_balance_statements_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["last_entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_balance_statements_last_entry_id_ledger_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["settlement_bill_id"],
            ["bills.id"],
            name=op.f("fk_balance_statements_settlement_bill_id_bills"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_balance_statements")),
        sa.UniqueConstraint(
            "customer_id", "month", name=op.f("uq_balance_statements_customer_id")
        ),
    )

    # The ledger is append-only: the database itself refuses to change an entry (a correction
    # is an entry of its own).
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION ledger_entries_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'ledger entries are append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE ON ledger_entries"
            " FOR EACH ROW EXECUTE FUNCTION ledger_entries_refuse_update()"
        )
    else:
        op.execute(
            "CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE ON ledger_entries"
            " BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END"
        )


def downgrade():
    postgresql = op.get_context().dialect.name == "postgresql"
    op.execute("DROP TRIGGER ledger_entries_append_only" + (" ON ledger_entries" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION ledger_entries_refuse_update()")
    op.drop_table("balance_statements")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_entries_customer_id_id")
    op.drop_table("ledger_entries")
