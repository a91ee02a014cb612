"""Octavia v2 load balancers: load balancers, their agent, listeners, pools,
members, health monitors, L7 policies and rules, quotas

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 15:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lbaas_loadbalancers',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('flavor_id', sa.String(length=36), nullable=True),
    sa.Column('availability_zone', sa.String(length=255), nullable=True),
    sa.Column('vip_address', sa.String(length=64), nullable=True),
    sa.Column('vip_port_id', sa.String(length=36), nullable=True),
    sa.Column('vip_subnet_id', sa.String(length=36), nullable=True),
    sa.Column('vip_network_id', sa.String(length=36), nullable=True),
    sa.Column('vip_port_owned', sa.Boolean(), nullable=False),
    sa.Column('vip_sg_id', sa.String(length=36), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lbaas_loadbalancers'))
    )
    op.create_index(op.f('ix_lbaas_loadbalancers_project_id'), 'lbaas_loadbalancers', ['project_id'], unique=False)
    op.create_index(op.f('ix_lbaas_loadbalancers_vip_port_id'), 'lbaas_loadbalancers', ['vip_port_id'], unique=False)
    op.create_table('lbaas_quotas',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('load_balancer', sa.Integer(), nullable=True),
    sa.Column('listener', sa.Integer(), nullable=True),
    sa.Column('pool', sa.Integer(), nullable=True),
    sa.Column('member', sa.Integer(), nullable=True),
    sa.Column('health_monitor', sa.Integer(), nullable=True),
    sa.Column('l7policy', sa.Integer(), nullable=True),
    sa.Column('l7rule', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('project_id', name=op.f('pk_lbaas_quotas'))
    )
    op.create_table('lbaas_listeners',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('loadbalancer_id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('protocol', sa.String(length=32), nullable=False),
    sa.Column('protocol_port', sa.Integer(), nullable=False),
    sa.Column('connection_limit', sa.Integer(), nullable=False),
    sa.Column('default_pool_id', sa.String(length=36), nullable=True),
    sa.Column('timeout_client_data', sa.Integer(), nullable=False),
    sa.Column('timeout_member_connect', sa.Integer(), nullable=False),
    sa.Column('timeout_member_data', sa.Integer(), nullable=False),
    sa.Column('timeout_tcp_inspect', sa.Integer(), nullable=False),
    sa.Column('insert_headers', sa.Text(), nullable=False),
    sa.Column('allowed_cidrs', sa.Text(), nullable=False),
    sa.Column('bytes_in', sa.BigInteger(), nullable=False),
    sa.Column('bytes_out', sa.BigInteger(), nullable=False),
    sa.Column('active_connections', sa.BigInteger(), nullable=False),
    sa.Column('total_connections', sa.BigInteger(), nullable=False),
    sa.Column('request_errors', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['loadbalancer_id'], ['lbaas_loadbalancers.id'], name=op.f('fk_lbaas_listeners_loadbalancer_id_lbaas_loadbalancers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lbaas_listeners')),
    sa.UniqueConstraint('loadbalancer_id', 'protocol_port', 'protocol', name=op.f('uq_lbaas_listeners_loadbalancer_id_protocol_port_protocol'))
    )
    op.create_index(op.f('ix_lbaas_listeners_loadbalancer_id'), 'lbaas_listeners', ['loadbalancer_id'], unique=False)
    op.create_index(op.f('ix_lbaas_listeners_project_id'), 'lbaas_listeners', ['project_id'], unique=False)
    op.create_table('lbaas_loadbalancer_agents',
    sa.Column('loadbalancer_id', sa.String(length=36), nullable=False),
    sa.Column('agent_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_lbaas_loadbalancer_agents_agent_id_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['loadbalancer_id'], ['lbaas_loadbalancers.id'], name=op.f('fk_lbaas_loadbalancer_agents_loadbalancer_id_lbaas_loadbalancers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('loadbalancer_id', name=op.f('pk_lbaas_loadbalancer_agents'))
    )
    op.create_index(op.f('ix_lbaas_loadbalancer_agents_agent_id'), 'lbaas_loadbalancer_agents', ['agent_id'], unique=False)
    op.create_table('lbaas_pools',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('loadbalancer_id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('protocol', sa.String(length=32), nullable=False),
    sa.Column('lb_algorithm', sa.String(length=32), nullable=False),
    sa.Column('session_persistence', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['loadbalancer_id'], ['lbaas_loadbalancers.id'], name=op.f('fk_lbaas_pools_loadbalancer_id_lbaas_loadbalancers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lbaas_pools'))
    )
    op.create_index(op.f('ix_lbaas_pools_loadbalancer_id'), 'lbaas_pools', ['loadbalancer_id'], unique=False)
    op.create_index(op.f('ix_lbaas_pools_project_id'), 'lbaas_pools', ['project_id'], unique=False)
    op.create_table('lbaas_healthmonitors',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('loadbalancer_id', sa.String(length=36), nullable=False),
    sa.Column('pool_id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('delay', sa.Integer(), nullable=False),
    sa.Column('timeout', sa.Integer(), nullable=False),
    sa.Column('max_retries', sa.Integer(), nullable=False),
    sa.Column('max_retries_down', sa.Integer(), nullable=False),
    sa.Column('http_method', sa.String(length=16), nullable=True),
    sa.Column('url_path', sa.String(length=2048), nullable=True),
    sa.Column('expected_codes', sa.String(length=64), nullable=True),
    sa.Column('http_version', sa.String(length=8), nullable=True),
    sa.Column('domain_name', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['loadbalancer_id'], ['lbaas_loadbalancers.id'], name=op.f('fk_lbaas_healthmonitors_loadbalancer_id_lbaas_loadbalancers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pool_id'], ['lbaas_pools.id'], name=op.f('fk_lbaas_healthmonitors_pool_id_lbaas_pools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lbaas_healthmonitors')),
    sa.UniqueConstraint('pool_id', name=op.f('uq_lbaas_healthmonitors_pool_id'))
    )
    op.create_index(op.f('ix_lbaas_healthmonitors_loadbalancer_id'), 'lbaas_healthmonitors', ['loadbalancer_id'], unique=False)
    op.create_index(op.f('ix_lbaas_healthmonitors_project_id'), 'lbaas_healthmonitors', ['project_id'], unique=False)
    op.create_table('lbaas_l7policies',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('loadbalancer_id', sa.String(length=36), nullable=False),
    sa.Column('listener_id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('redirect_pool_id', sa.String(length=36), nullable=True),
    sa.Column('redirect_url', sa.String(length=2048), nullable=True),
    sa.Column('redirect_prefix', sa.String(length=2048), nullable=True),
    sa.Column('redirect_http_code', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['listener_id'], ['lbaas_listeners.id'], name=op.f('fk_lbaas_l7policies_listener_id_lbaas_listeners'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['loadbalancer_id'], ['lbaas_loadbalancers.id'], name=op.f('fk_lbaas_l7policies_loadbalancer_id_lbaas_loadbalancers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lbaas_l7policies'))
    )
    op.create_index(op.f('ix_lbaas_l7policies_listener_id'), 'lbaas_l7policies', ['listener_id'], unique=False)
    op.create_index(op.f('ix_lbaas_l7policies_loadbalancer_id'), 'lbaas_l7policies', ['loadbalancer_id'], unique=False)
    op.create_index(op.f('ix_lbaas_l7policies_project_id'), 'lbaas_l7policies', ['project_id'], unique=False)
    op.create_table('lbaas_members',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('loadbalancer_id', sa.String(length=36), nullable=False),
    sa.Column('pool_id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('protocol_port', sa.Integer(), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.Column('backup', sa.Boolean(), nullable=False),
    sa.Column('subnet_id', sa.String(length=36), nullable=True),
    sa.Column('monitor_address', sa.String(length=64), nullable=True),
    sa.Column('monitor_port', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['loadbalancer_id'], ['lbaas_loadbalancers.id'], name=op.f('fk_lbaas_members_loadbalancer_id_lbaas_loadbalancers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pool_id'], ['lbaas_pools.id'], name=op.f('fk_lbaas_members_pool_id_lbaas_pools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lbaas_members')),
    sa.UniqueConstraint('pool_id', 'address', 'protocol_port', name=op.f('uq_lbaas_members_pool_id_address_protocol_port'))
    )
    op.create_index(op.f('ix_lbaas_members_loadbalancer_id'), 'lbaas_members', ['loadbalancer_id'], unique=False)
    op.create_index(op.f('ix_lbaas_members_pool_id'), 'lbaas_members', ['pool_id'], unique=False)
    op.create_index(op.f('ix_lbaas_members_project_id'), 'lbaas_members', ['project_id'], unique=False)
    op.create_table('lbaas_l7rules',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('loadbalancer_id', sa.String(length=36), nullable=False),
    sa.Column('l7policy_id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('provisioning_status', sa.String(length=16), nullable=False),
    sa.Column('operating_status', sa.String(length=16), nullable=False),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('compare_type', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=True),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('invert', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['l7policy_id'], ['lbaas_l7policies.id'], name=op.f('fk_lbaas_l7rules_l7policy_id_lbaas_l7policies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['loadbalancer_id'], ['lbaas_loadbalancers.id'], name=op.f('fk_lbaas_l7rules_loadbalancer_id_lbaas_loadbalancers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lbaas_l7rules'))
    )
    op.create_index(op.f('ix_lbaas_l7rules_l7policy_id'), 'lbaas_l7rules', ['l7policy_id'], unique=False)
    op.create_index(op.f('ix_lbaas_l7rules_loadbalancer_id'), 'lbaas_l7rules', ['loadbalancer_id'], unique=False)
    op.create_index(op.f('ix_lbaas_l7rules_project_id'), 'lbaas_l7rules', ['project_id'], unique=False)
    


def downgrade() -> None:
    op.drop_index(op.f('ix_lbaas_l7rules_project_id'), table_name='lbaas_l7rules')
    op.drop_index(op.f('ix_lbaas_l7rules_loadbalancer_id'), table_name='lbaas_l7rules')
    op.drop_index(op.f('ix_lbaas_l7rules_l7policy_id'), table_name='lbaas_l7rules')
    op.drop_table('lbaas_l7rules')
    op.drop_index(op.f('ix_lbaas_members_project_id'), table_name='lbaas_members')
    op.drop_index(op.f('ix_lbaas_members_pool_id'), table_name='lbaas_members')
    op.drop_index(op.f('ix_lbaas_members_loadbalancer_id'), table_name='lbaas_members')
    op.drop_table('lbaas_members')
    op.drop_index(op.f('ix_lbaas_l7policies_project_id'), table_name='lbaas_l7policies')
    op.drop_index(op.f('ix_lbaas_l7policies_loadbalancer_id'), table_name='lbaas_l7policies')
    op.drop_index(op.f('ix_lbaas_l7policies_listener_id'), table_name='lbaas_l7policies')
    op.drop_table('lbaas_l7policies')
    op.drop_index(op.f('ix_lbaas_healthmonitors_project_id'), table_name='lbaas_healthmonitors')
    op.drop_index(op.f('ix_lbaas_healthmonitors_loadbalancer_id'), table_name='lbaas_healthmonitors')
    op.drop_table('lbaas_healthmonitors')
    op.drop_index(op.f('ix_lbaas_pools_project_id'), table_name='lbaas_pools')
    op.drop_index(op.f('ix_lbaas_pools_loadbalancer_id'), table_name='lbaas_pools')
    op.drop_table('lbaas_pools')
    op.drop_index(op.f('ix_lbaas_loadbalancer_agents_agent_id'), table_name='lbaas_loadbalancer_agents')
    op.drop_table('lbaas_loadbalancer_agents')
    op.drop_index(op.f('ix_lbaas_listeners_project_id'), table_name='lbaas_listeners')
    op.drop_index(op.f('ix_lbaas_listeners_loadbalancer_id'), table_name='lbaas_listeners')
    op.drop_table('lbaas_listeners')
    op.drop_table('lbaas_quotas')
    op.drop_index(op.f('ix_lbaas_loadbalancers_vip_port_id'), table_name='lbaas_loadbalancers')
    op.drop_index(op.f('ix_lbaas_loadbalancers_project_id'), table_name='lbaas_loadbalancers')
    op.drop_table('lbaas_loadbalancers')
    
