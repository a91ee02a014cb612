"""QoS policies, rules, default policies and policy bindings

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 19:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_BINDINGS = (('qos_port_policy_bindings', 'port_id', 'ports'),
             ('qos_network_policy_bindings', 'network_id', 'networks'),
             ('qos_fip_policy_bindings', 'fip_id', 'floatingips'),
             ('qos_router_gw_policy_bindings', 'router_id', 'routers'))


def upgrade() -> None:
    op.create_table(
        'qos_policies',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.String(length=255), nullable=False),
        sa.Column('shared', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('revision_number', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_qos_policies')),
    )
    op.create_index(op.f('ix_qos_policies_project_id'), 'qos_policies', ['project_id'])
    op.create_table(
        'qos_rules',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('qos_policy_id', sa.String(length=36), nullable=False),
        sa.Column('type', sa.String(length=32), nullable=False),
        sa.Column('direction', sa.String(length=16), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=True)
          for c in ('max_kbps', 'max_burst_kbps', 'min_kbps', 'dscp_mark', 'max_kpps',
                    'max_burst_kpps', 'min_kpps')],
        sa.ForeignKeyConstraint(['qos_policy_id'], ['qos_policies.id'], ondelete='CASCADE',
                                name=op.f('fk_qos_rules_qos_policy_id_qos_policies')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_qos_rules')),
        sa.UniqueConstraint('qos_policy_id', 'type', 'direction',
                            name=op.f('uq_qos_rules_qos_policy_id_type_direction')),
    )
    op.create_table(
        'qos_default_policies',
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('qos_policy_id', sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(['qos_policy_id'], ['qos_policies.id'], ondelete='CASCADE',
                                name=op.f('fk_qos_default_policies_qos_policy_id_qos_policies')),
        sa.PrimaryKeyConstraint('project_id', name=op.f('pk_qos_default_policies')),
        sa.UniqueConstraint('qos_policy_id', name=op.f('uq_qos_default_policies_qos_policy_id')),
    )
    for table, key, target in _BINDINGS:
        op.create_table(
            table,
            sa.Column(key, sa.String(length=36), nullable=False),
            sa.Column('policy_id', sa.String(length=36), nullable=False),
            sa.ForeignKeyConstraint([key], [f'{target}.id'], ondelete='CASCADE',
                                    name=op.f(f'fk_{table}_{key}_{target}')),
            sa.ForeignKeyConstraint(['policy_id'], ['qos_policies.id'],
                                    name=op.f(f'fk_{table}_policy_id_qos_policies')),
            sa.PrimaryKeyConstraint(key, name=op.f(f'pk_{table}')),
        )
        op.create_index(op.f(f'ix_{table}_policy_id'), table, ['policy_id'])


def downgrade() -> None:
    for table, _key, _target in reversed(_BINDINGS):
        op.drop_table(table)
    op.drop_table('qos_default_policies')
    op.drop_table('qos_rules')
    op.drop_table('qos_policies')
