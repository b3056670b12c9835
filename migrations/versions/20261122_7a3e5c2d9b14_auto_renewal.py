"""auto-renewal: the account's setting and saved card, a server's override

Revision ID: 7a3e5c2d9b14
Revises: 3ed72f4d510a
Create Date: 2026-11-22 06:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "7a3e5c2d9b14"
down_revision = "3ed72f4d510a"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("auto_renewal", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("auto_renewal_months", sa.Integer(), nullable=False, server_default="12")
        )
        batch_op.add_column(sa.Column("saved_card_token", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("saved_card_brand", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("saved_card_last4", sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column("saved_card_expiry", sa.String(length=5), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_customers_auto_renewal_months"), "auto_renewal_months IN (1, 3, 6, 12)"
        )
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auto_renewal", sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_column("auto_renewal")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_customers_auto_renewal_months"), type_="check")
        batch_op.drop_column("saved_card_expiry")
        batch_op.drop_column("saved_card_last4")
        batch_op.drop_column("saved_card_brand")
        batch_op.drop_column("saved_card_token")
        batch_op.drop_column("auto_renewal_months")
        batch_op.drop_column("auto_renewal")
