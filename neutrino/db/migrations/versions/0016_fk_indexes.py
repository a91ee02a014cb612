"""an index on every foreign key column that had none: a parent's delete
looks its children up by that column (ports: floating IPs, router gateways,
HA router bindings; security groups: rules naming them as remote group)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 23:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

INDEXES = (
    ('floatingips', 'floating_port_id'),
    ('routers', 'gw_port_id'),
    ('router_agent_bindings', 'ha_port_id'),
    ('security_group_rules', 'remote_group_id'),
    ('network_dhcp_agent_bindings', 'agent_id'),
    ('auto_allocated_topologies', 'network_id'),
    ('auto_allocated_topologies', 'router_id'),
    ('flavor_profile_bindings', 'service_profile_id'),
    ('identity_implied_roles', 'implied_role_id'),
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, column in INDEXES:
        name = f'ix_{table}_{column}'
        # present already on MySQL/MariaDB after a downgrade (which keeps them)
        if name not in {ix['name'] for ix in inspector.get_indexes(table)}:
            op.create_index(op.f(name), table, [column], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'mysql':
        return    # InnoDB keeps an index under every foreign key: it refuses the drop
    for table, column in reversed(INDEXES):
        op.drop_index(op.f(f'ix_{table}_{column}'), table_name=table)
