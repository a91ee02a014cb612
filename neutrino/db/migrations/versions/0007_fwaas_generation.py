"""FWaaS: firewall groups' configuration generation (versions never repeat)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 15:55:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('firewall_groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('config_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('config_generation', sa.Integer(), nullable=False,
                                      server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('firewall_groups', schema=None) as batch_op:
        batch_op.drop_column('config_generation')
        batch_op.drop_column('config_hash')
