"""invoice terms (請求書払い): purchases on account, the contact person, direct debit

Revision ID: 63955dfdb8db
Revises: d16b2dbc1675
Create Date: 2026-11-22 07:14:03.174186

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '63955dfdb8db'
down_revision = 'd16b2dbc1675'
branch_labels = None
depends_on = None

LINE_KINDS = (
    "kind IN ('renewal', 'month_end_proration', 'convenience_store_fee', 'deposit', 'balance_due')"
)
#: A bill line may now bill a purchase on account (a month-end bill's lines).
LINE_KINDS_WITH_ON_ACCOUNT = (
    "kind IN ('renewal', 'month_end_proration', 'convenience_store_fee', 'deposit',"
    " 'balance_due', 'on_account')"
)


def upgrade():
    op.create_table('on_account_purchases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('purchased_on', sa.Date(), nullable=False),
    sa.Column('application_token', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('tax_rate', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=True),
    sa.Column('period_months', sa.Integer(), nullable=True),
    sa.Column('new_renewal_date', sa.Date(), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('month_end_bill_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('renewal', 'month_end_proration')", name=op.f('ck_on_account_purchases_kind')),
    sa.CheckConstraint('(period_start IS NULL) = (period_end IS NULL) AND period_start <= period_end', name=op.f('ck_on_account_purchases_period_in_order')),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_on_account_purchases_amount_not_negative')),
    sa.CheckConstraint('tax_rate IN (0, 8, 10)', name=op.f('ck_on_account_purchases_tax_rate')),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_on_account_purchases_contract_id_contracts')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_on_account_purchases_customer_id_customers')),
    sa.ForeignKeyConstraint(['month_end_bill_id'], ['bills.id'], name=op.f('fk_on_account_purchases_month_end_bill_id_bills')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_on_account_purchases_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_on_account_purchases')),
    sa.UniqueConstraint('customer_id', 'application_token', 'position', name=op.f('uq_on_account_purchases_customer_id'))
    )
    with op.batch_alter_table('on_account_purchases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_on_account_purchases_contract_id'), ['contract_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_on_account_purchases_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_on_account_purchases_month_end_bill_id'), ['month_end_bill_id'], unique=False)

    with op.batch_alter_table('bill_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purchased_on', sa.Date(), nullable=True))
        batch_op.drop_constraint(batch_op.f('ck_bill_lines_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_bill_lines_kind'), LINE_KINDS_WITH_ON_ACCOUNT)

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('invoice_terms', sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column('contact_name', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('direct_debit_token', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('direct_debit_account', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('direct_debit_registered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            batch_op.f('ck_customers_invoice_terms_corporate_only'),
            "NOT invoice_terms OR kind = 'corporate'",
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_customers_direct_debit_token_with_account'),
            "(direct_debit_token IS NULL) = (direct_debit_account IS NULL)",
        )


def downgrade():
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('ck_customers_direct_debit_token_with_account'), type_='check'
        )
        batch_op.drop_constraint(batch_op.f('ck_customers_invoice_terms_corporate_only'), type_='check')
        batch_op.drop_column('direct_debit_registered_at')
        batch_op.drop_column('direct_debit_account')
        batch_op.drop_column('direct_debit_token')
        batch_op.drop_column('contact_name')
        batch_op.drop_column('invoice_terms')

    op.execute("DELETE FROM bill_lines WHERE kind = 'on_account'")
    with op.batch_alter_table('bill_lines', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_bill_lines_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_bill_lines_kind'), LINE_KINDS)
        batch_op.drop_column('purchased_on')

    with op.batch_alter_table('on_account_purchases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_on_account_purchases_month_end_bill_id'))
        batch_op.drop_index(batch_op.f('ix_on_account_purchases_customer_id'))
        batch_op.drop_index(batch_op.f('ix_on_account_purchases_contract_id'))

    op.drop_table('on_account_purchases')
