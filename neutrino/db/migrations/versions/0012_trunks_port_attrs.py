"""trunks, their subports, the optional port attributes, inactive port bindings

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 19:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'trunks',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.String(length=255), nullable=False),
        sa.Column('admin_state_up', sa.Boolean(), nullable=False),
        sa.Column('port_id', sa.String(length=36), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('revision_number', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['port_id'], ['ports.id'],
                                name=op.f('fk_trunks_port_id_ports')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_trunks')),
        sa.UniqueConstraint('port_id', name=op.f('uq_trunks_port_id')),
    )
    op.create_index(op.f('ix_trunks_project_id'), 'trunks', ['project_id'])
    op.create_table(
        'trunk_subports',
        sa.Column('port_id', sa.String(length=36), nullable=False),
        sa.Column('trunk_id', sa.String(length=36), nullable=False),
        sa.Column('segmentation_type', sa.String(length=32), nullable=False),
        sa.Column('segmentation_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['port_id'], ['ports.id'], ondelete='CASCADE',
                                name=op.f('fk_trunk_subports_port_id_ports')),
        sa.ForeignKeyConstraint(['trunk_id'], ['trunks.id'], ondelete='CASCADE',
                                name=op.f('fk_trunk_subports_trunk_id_trunks')),
        sa.PrimaryKeyConstraint('port_id', name=op.f('pk_trunk_subports')),
        sa.UniqueConstraint('trunk_id', 'segmentation_type', 'segmentation_id',
                            name=op.f('uq_trunk_subports_trunk_id_segmentation_type_segmentation_id')),
    )
    op.create_index(op.f('ix_trunk_subports_trunk_id'), 'trunk_subports', ['trunk_id'])
    op.create_table(
        'port_attrs',
        sa.Column('port_id', sa.String(length=36), nullable=False),
        sa.Column('numa_affinity_policy', sa.String(length=16), nullable=True),
        sa.Column('device_profile', sa.String(length=255), nullable=True),
        sa.Column('data_plane_status', sa.String(length=16), nullable=True),
        sa.Column('propagate_uplink_status', sa.Boolean(), nullable=False),
        sa.Column('ip_allocation', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['port_id'], ['ports.id'], ondelete='CASCADE',
                                name=op.f('fk_port_attrs_port_id_ports')),
        sa.PrimaryKeyConstraint('port_id', name=op.f('pk_port_attrs')),
    )
    op.create_table(
        'port_bindings',
        sa.Column('port_id', sa.String(length=36), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('vif_type', sa.String(length=64), nullable=False),
        sa.Column('vif_details', sa.Text(), nullable=False),
        sa.Column('vnic_type', sa.String(length=64), nullable=False),
        sa.Column('profile', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['port_id'], ['ports.id'], ondelete='CASCADE',
                                name=op.f('fk_port_bindings_port_id_ports')),
        sa.PrimaryKeyConstraint('port_id', 'host', name=op.f('pk_port_bindings')),
    )


def downgrade() -> None:
    op.drop_table('port_bindings')
    op.drop_table('port_attrs')
    op.drop_index(op.f('ix_trunk_subports_trunk_id'), table_name='trunk_subports')
    op.drop_table('trunk_subports')
    op.drop_index(op.f('ix_trunks_project_id'), table_name='trunks')
    op.drop_table('trunks')
