"""FWaaS v2 firewall groups, policies, rules

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 15:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def _standard():
    return [sa.Column('created_at', sa.DateTime(), nullable=False),
            sa.Column('updated_at', sa.DateTime(), nullable=False),
            sa.Column('revision_number', sa.Integer(), nullable=False)]


def upgrade() -> None:
    op.create_table(
        'firewall_rules',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.String(length=255), nullable=False),
        sa.Column('protocol', sa.String(length=40), nullable=True),
        sa.Column('ip_version', sa.Integer(), nullable=False),
        sa.Column('source_ip_address', sa.String(length=64), nullable=True),
        sa.Column('destination_ip_address', sa.String(length=64), nullable=True),
        sa.Column('source_port_range_min', sa.Integer(), nullable=True),
        sa.Column('source_port_range_max', sa.Integer(), nullable=True),
        sa.Column('destination_port_range_min', sa.Integer(), nullable=True),
        sa.Column('destination_port_range_max', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('shared', sa.Boolean(), nullable=False),
        *_standard(),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_firewall_rules')),
    )
    op.create_index(op.f('ix_firewall_rules_project_id'), 'firewall_rules', ['project_id'])
    op.create_table(
        'firewall_policies',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.String(length=255), nullable=False),
        sa.Column('audited', sa.Boolean(), nullable=False),
        sa.Column('shared', sa.Boolean(), nullable=False),
        *_standard(),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_firewall_policies')),
    )
    op.create_index(op.f('ix_firewall_policies_project_id'), 'firewall_policies',
                    ['project_id'])
    op.create_table(
        'firewall_policy_rules',
        sa.Column('firewall_policy_id', sa.String(length=36), nullable=False),
        sa.Column('firewall_rule_id', sa.String(length=36), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['firewall_policy_id'], ['firewall_policies.id'], ondelete='CASCADE',
            name=op.f('fk_firewall_policy_rules_firewall_policy_id_firewall_policies')),
        sa.ForeignKeyConstraint(
            ['firewall_rule_id'], ['firewall_rules.id'],
            name=op.f('fk_firewall_policy_rules_firewall_rule_id_firewall_rules')),
        sa.PrimaryKeyConstraint('firewall_policy_id', 'firewall_rule_id',
                                name=op.f('pk_firewall_policy_rules')),
    )
    op.create_index(op.f('ix_firewall_policy_rules_firewall_rule_id'),
                    'firewall_policy_rules', ['firewall_rule_id'])
    op.create_table(
        'firewall_groups',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.String(length=255), nullable=False),
        sa.Column('admin_state_up', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('shared', sa.Boolean(), nullable=False),
        sa.Column('ingress_firewall_policy_id', sa.String(length=36), nullable=True),
        sa.Column('egress_firewall_policy_id', sa.String(length=36), nullable=True),
        sa.Column('default_for', sa.String(length=255), nullable=True),
        *_standard(),
        sa.ForeignKeyConstraint(
            ['ingress_firewall_policy_id'], ['firewall_policies.id'],
            name=op.f('fk_firewall_groups_ingress_firewall_policy_id_firewall_policies')),
        sa.ForeignKeyConstraint(
            ['egress_firewall_policy_id'], ['firewall_policies.id'],
            name=op.f('fk_firewall_groups_egress_firewall_policy_id_firewall_policies')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_firewall_groups')),
        sa.UniqueConstraint('default_for', name=op.f('uq_firewall_groups_default_for')),
    )
    op.create_index(op.f('ix_firewall_groups_project_id'), 'firewall_groups', ['project_id'])
    op.create_index(op.f('ix_firewall_groups_ingress_firewall_policy_id'), 'firewall_groups',
                    ['ingress_firewall_policy_id'])
    op.create_index(op.f('ix_firewall_groups_egress_firewall_policy_id'), 'firewall_groups',
                    ['egress_firewall_policy_id'])
    op.create_table(
        'firewall_group_ports',
        sa.Column('port_id', sa.String(length=36), nullable=False),
        sa.Column('firewall_group_id', sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(['port_id'], ['ports.id'], ondelete='CASCADE',
                                name=op.f('fk_firewall_group_ports_port_id_ports')),
        sa.ForeignKeyConstraint(
            ['firewall_group_id'], ['firewall_groups.id'], ondelete='CASCADE',
            name=op.f('fk_firewall_group_ports_firewall_group_id_firewall_groups')),
        sa.PrimaryKeyConstraint('port_id', name=op.f('pk_firewall_group_ports')),
    )
    op.create_index(op.f('ix_firewall_group_ports_firewall_group_id'), 'firewall_group_ports',
                    ['firewall_group_id'])
    op.create_table(
        'firewall_group_reports',
        sa.Column('firewall_group_id', sa.String(length=36), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('version', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=1024), nullable=True),
        sa.Column('reported_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['firewall_group_id'], ['firewall_groups.id'], ondelete='CASCADE',
            name=op.f('fk_firewall_group_reports_firewall_group_id_firewall_groups')),
        sa.PrimaryKeyConstraint('firewall_group_id', 'host',
                                name=op.f('pk_firewall_group_reports')),
    )


def downgrade() -> None:
    op.drop_table('firewall_group_reports')
    op.drop_table('firewall_group_ports')
    op.drop_table('firewall_groups')
    op.drop_table('firewall_policy_rules')
    op.drop_table('firewall_policies')
    op.drop_table('firewall_rules')
