"""address scopes and subnet pools (address-scope, subnet_allocation)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 19:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def _standard():
    return [sa.Column('created_at', sa.DateTime(), nullable=False),
            sa.Column('updated_at', sa.DateTime(), nullable=False),
            sa.Column('revision_number', sa.Integer(), nullable=False)]


def upgrade() -> None:
    op.create_table(
        'address_scopes',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.String(length=255), nullable=False),
        sa.Column('shared', sa.Boolean(), nullable=False),
        sa.Column('ip_version', sa.Integer(), nullable=False),
        *_standard(),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_address_scopes')),
    )
    op.create_index(op.f('ix_address_scopes_project_id'), 'address_scopes', ['project_id'])
    op.create_table(
        'subnetpools',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.String(length=255), nullable=False),
        sa.Column('ip_version', sa.Integer(), nullable=False),
        sa.Column('default_prefixlen', sa.Integer(), nullable=False),
        sa.Column('min_prefixlen', sa.Integer(), nullable=False),
        sa.Column('max_prefixlen', sa.Integer(), nullable=False),
        sa.Column('shared', sa.Boolean(), nullable=False),
        sa.Column('is_default', sa.Boolean(), nullable=False),
        sa.Column('default_quota', sa.Integer(), nullable=True),
        sa.Column('address_scope_id', sa.String(length=36), nullable=True),
        *_standard(),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_subnetpools')),
    )
    op.create_index(op.f('ix_subnetpools_project_id'), 'subnetpools', ['project_id'])
    op.create_index(op.f('ix_subnetpools_address_scope_id'), 'subnetpools',
                    ['address_scope_id'])
    op.create_table(
        'subnetpool_prefixes',
        sa.Column('subnetpool_id', sa.String(length=36), nullable=False),
        sa.Column('cidr', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['subnetpool_id'], ['subnetpools.id'], ondelete='CASCADE',
                                name=op.f('fk_subnetpool_prefixes_subnetpool_id_subnetpools')),
        sa.PrimaryKeyConstraint('subnetpool_id', 'cidr', name=op.f('pk_subnetpool_prefixes')),
    )


def downgrade() -> None:
    op.drop_table('subnetpool_prefixes')
    op.drop_index(op.f('ix_subnetpools_address_scope_id'), table_name='subnetpools')
    op.drop_index(op.f('ix_subnetpools_project_id'), table_name='subnetpools')
    op.drop_table('subnetpools')
    op.drop_index(op.f('ix_address_scopes_project_id'), table_name='address_scopes')
    op.drop_table('address_scopes')
