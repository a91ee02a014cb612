"""quota locks (atomic quota checks), identity login failures (lockout)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 12:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'quota_locks',
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('resource', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('project_id', 'resource', name=op.f('pk_quota_locks')),
    )
    op.create_table(
        'identity_auth_failures',
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failure_us', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_identity_auth_failures')),
    )


def downgrade() -> None:
    op.drop_table('identity_auth_failures')
    op.drop_table('quota_locks')
