"""segments (name, description, timestamps, index), subnets' segment and
service types, network segment ranges, default external network,
auto-allocated topologies

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 19:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

_SEGMENT_COLUMNS = ('segment_index', 'name', 'description', 'created_at', 'updated_at',
                    'revision_number')


def upgrade() -> None:
    with op.batch_alter_table('network_segments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('segment_index', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('name', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('description', sa.String(length=255), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('created_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('revision_number', sa.Integer(), nullable=False,
                                      server_default='0'))
    op.create_table('subnet_segments',
    sa.Column('subnet_id', sa.String(length=36), nullable=False),
    sa.Column('segment_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['subnet_id'], ['subnets.id'], name=op.f('fk_subnet_segments_subnet_id_subnets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['segment_id'], ['network_segments.id'], name=op.f('fk_subnet_segments_segment_id_network_segments')),
    sa.PrimaryKeyConstraint('subnet_id', name=op.f('pk_subnet_segments'))
    )
    with op.batch_alter_table('subnet_segments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subnet_segments_segment_id'), ['segment_id'],
                              unique=False)
    op.create_table('subnet_service_types',
    sa.Column('subnet_id', sa.String(length=36), nullable=False),
    sa.Column('service_type', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['subnet_id'], ['subnets.id'], name=op.f('fk_subnet_service_types_subnet_id_subnets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('subnet_id', 'service_type', name=op.f('pk_subnet_service_types'))
    )
    op.create_table('network_segment_ranges',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('shared', sa.Boolean(), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=True),
    sa.Column('network_type', sa.String(length=32), nullable=False),
    sa.Column('physical_network', sa.String(length=64), nullable=False),
    sa.Column('minimum', sa.Integer(), nullable=False),
    sa.Column('maximum', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_network_segment_ranges'))
    )
    with op.batch_alter_table('network_segment_ranges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_network_segment_ranges_project_id'),
                              ['project_id'], unique=False)
    op.create_table('default_external_networks',
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.Column('singleton', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], name=op.f('fk_default_external_networks_network_id_networks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('network_id', name=op.f('pk_default_external_networks')),
    sa.UniqueConstraint('singleton', name=op.f('uq_default_external_networks_singleton'))
    )
    op.create_table('auto_allocated_topologies',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.Column('router_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], name=op.f('fk_auto_allocated_topologies_network_id_networks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['router_id'], ['routers.id'], name=op.f('fk_auto_allocated_topologies_router_id_routers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('project_id', name=op.f('pk_auto_allocated_topologies'))
    )


def downgrade() -> None:
    op.drop_table('auto_allocated_topologies')
    op.drop_table('default_external_networks')
    with op.batch_alter_table('network_segment_ranges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_network_segment_ranges_project_id'))
    op.drop_table('network_segment_ranges')
    op.drop_table('subnet_service_types')
    with op.batch_alter_table('subnet_segments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subnet_segments_segment_id'))
    op.drop_table('subnet_segments')
    with op.batch_alter_table('network_segments', schema=None) as batch_op:
        for name in reversed(_SEGMENT_COLUMNS):
            batch_op.drop_column(name)
