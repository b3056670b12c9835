"""a member ID may not contain "+", the separator of sub-users' login IDs

Revision ID: 3c1f0a9e7b52
Revises: dbd3a8b414dc
Create Date: 2026-11-22 10:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '3c1f0a9e7b52'
down_revision = 'dbd3a8b414dc'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f('ck_customers_member_id_without_plus'), "member_id NOT LIKE '%+%'"
        )


def downgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_customers_member_id_without_plus'), type_='check')
