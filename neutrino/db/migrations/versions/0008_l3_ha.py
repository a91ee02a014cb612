"""HA routers: routers.ha, one binding per (router, agent) with its ha- port and
VRRP state, the per-project HA networks and the VRIDs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 16:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def _set_primary_key(columns: list[str]) -> None:
    if op.get_bind().dialect.name == 'mysql':
        # MariaDB: a foreign key needs an index at every moment: one ALTER
        op.execute('ALTER TABLE router_agent_bindings DROP PRIMARY KEY, '
                   f'ADD PRIMARY KEY ({", ".join(columns)})')
        return
    with op.batch_alter_table('router_agent_bindings', schema=None) as batch_op:
        batch_op.drop_constraint('pk_router_agent_bindings', type_='primary')
        batch_op.create_primary_key('pk_router_agent_bindings', columns)


def upgrade() -> None:
    with op.batch_alter_table('routers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ha', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    _set_primary_key(['router_id', 'agent_id'])
    with op.batch_alter_table('router_agent_bindings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ha_port_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('ha_state', sa.String(length=16), nullable=True))
        batch_op.create_foreign_key(op.f('fk_router_agent_bindings_ha_port_id_ports'), 'ports',
                                    ['ha_port_id'], ['id'], ondelete='CASCADE')
    op.create_table('ha_router_networks',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], name=op.f('fk_ha_router_networks_network_id_networks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', name=op.f('pk_ha_router_networks')),
    sa.UniqueConstraint('network_id', name=op.f('uq_ha_router_networks_network_id'))
    )
    op.create_table('ha_router_vrid_allocations',
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.Column('vr_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('router_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], name=op.f('fk_ha_router_vrid_allocations_network_id_networks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['router_id'], ['routers.id'], name=op.f('fk_ha_router_vrid_allocations_router_id_routers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('network_id', 'vr_id', name=op.f('pk_ha_router_vrid_allocations')),
    sa.UniqueConstraint('router_id', name=op.f('uq_ha_router_vrid_allocations_router_id'))
    )


def downgrade() -> None:
    op.drop_table('ha_router_vrid_allocations')
    op.drop_table('ha_router_networks')
    op.execute("DELETE FROM router_agent_bindings WHERE ha_port_id IS NOT NULL")
    with op.batch_alter_table('router_agent_bindings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_router_agent_bindings_ha_port_id_ports'),
                                 type_='foreignkey')
        batch_op.drop_column('ha_state')
        batch_op.drop_column('ha_port_id')
    _set_primary_key(['router_id'])
    with op.batch_alter_table('routers', schema=None) as batch_op:
        batch_op.drop_column('ha')
