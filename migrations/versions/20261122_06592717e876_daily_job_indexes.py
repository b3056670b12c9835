"""indexes for the daily job: contracts by renewal date, the outbox's undelivered mail only

Revision ID: 06592717e876
Revises: 7a3e5c2d9b14
Create Date: 2026-11-22 07:14:24.029379

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "06592717e876"
down_revision = "7a3e5c2d9b14"
branch_labels = None
depends_on = None

UNDELIVERED = sa.text("sent_at IS NULL AND failed_at IS NULL")


def upgrade():
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.create_index("ix_contracts_renewal_date", ["renewal_date"], unique=False)

    # The sender looks for the first undelivered mail: a partial index holds only those. The
    # indexes on next_attempt_at, sent_at and failed_at held every mail ever sent, and led
    # SQLite's planner to scan all of them for "IS NULL".
    with op.batch_alter_table("outbox_mails", schema=None) as batch_op:
        for column in ("next_attempt_at", "sent_at", "failed_at"):
            batch_op.drop_index(f"ix_outbox_mails_{column}")
        batch_op.create_index(
            "ix_outbox_mails_undelivered",
            ["id"],
            unique=False,
            sqlite_where=UNDELIVERED,
            postgresql_where=UNDELIVERED,
        )


def downgrade():
    with op.batch_alter_table("outbox_mails", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_mails_undelivered")
        for column in ("next_attempt_at", "sent_at", "failed_at"):
            batch_op.create_index(f"ix_outbox_mails_{column}", [column], unique=False)

    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_index("ix_contracts_renewal_date")
