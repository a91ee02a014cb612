"""L3 extensions: port forwardings, conntrack helpers, metering labels and
rules, service flavors and profiles, routers' AZ hints and flavors

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 19:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

_UUID = sa.String(length=36)


def _fk(table: str, column: str, referred: str, ondelete: str | None = 'CASCADE'):
    return sa.ForeignKeyConstraint([column], [f'{referred}.id'],
                                   name=op.f(f'fk_{table}_{column}_{referred}'),
                                   ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        'portforwardings',
        sa.Column('id', _UUID, nullable=False),
        sa.Column('floatingip_id', _UUID, nullable=False),
        sa.Column('router_id', _UUID, nullable=False),
        sa.Column('internal_port_id', _UUID, nullable=True),
        sa.Column('internal_ip_address', sa.String(length=64), nullable=False),
        sa.Column('internal_port_start', sa.Integer(), nullable=False),
        sa.Column('internal_port_end', sa.Integer(), nullable=False),
        sa.Column('external_port_start', sa.Integer(), nullable=False),
        sa.Column('external_port_end', sa.Integer(), nullable=False),
        sa.Column('protocol', sa.String(length=40), nullable=False),
        sa.Column('description', sa.String(length=255), nullable=False),
        _fk('portforwardings', 'floatingip_id', 'floatingips'),
        _fk('portforwardings', 'router_id', 'routers'),
        _fk('portforwardings', 'internal_port_id', 'ports', 'SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_portforwardings')),
        sa.UniqueConstraint('floatingip_id', 'protocol', 'external_port_start',
                            name=op.f('uq_portforwardings_floatingip_id_protocol_'
                                      'external_port_start')),
    )
    for column in ('floatingip_id', 'router_id', 'internal_port_id'):
        op.create_index(op.f(f'ix_portforwardings_{column}'), 'portforwardings', [column])
    op.create_table(
        'conntrack_helpers',
        sa.Column('id', _UUID, nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('router_id', _UUID, nullable=False),
        sa.Column('protocol', sa.String(length=40), nullable=False),
        sa.Column('port', sa.Integer(), nullable=False),
        sa.Column('helper', sa.String(length=64), nullable=False),
        _fk('conntrack_helpers', 'router_id', 'routers'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_conntrack_helpers')),
        sa.UniqueConstraint('router_id', 'protocol', 'port', 'helper',
                            name=op.f('uq_conntrack_helpers_router_id_protocol_port_helper')),
    )
    op.create_index(op.f('ix_conntrack_helpers_project_id'), 'conntrack_helpers',
                    ['project_id'])
    op.create_index(op.f('ix_conntrack_helpers_router_id'), 'conntrack_helpers', ['router_id'])
    op.create_table(
        'metering_labels',
        sa.Column('id', _UUID, nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.String(length=1024), nullable=False),
        sa.Column('shared', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_metering_labels')),
    )
    op.create_index(op.f('ix_metering_labels_project_id'), 'metering_labels', ['project_id'])
    op.create_table(
        'metering_label_rules',
        sa.Column('id', _UUID, nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('metering_label_id', _UUID, nullable=False),
        sa.Column('direction', sa.String(length=16), nullable=False),
        sa.Column('excluded', sa.Boolean(), nullable=False),
        sa.Column('remote_ip_prefix', sa.String(length=64), nullable=True),
        sa.Column('source_ip_prefix', sa.String(length=64), nullable=True),
        sa.Column('destination_ip_prefix', sa.String(length=64), nullable=True),
        _fk('metering_label_rules', 'metering_label_id', 'metering_labels'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_metering_label_rules')),
    )
    op.create_index(op.f('ix_metering_label_rules_project_id'), 'metering_label_rules',
                    ['project_id'])
    op.create_index(op.f('ix_metering_label_rules_metering_label_id'), 'metering_label_rules',
                    ['metering_label_id'])
    op.create_table(
        'flavors',
        sa.Column('id', _UUID, nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.String(length=1024), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('service_type', sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_flavors')),
    )
    op.create_table(
        'service_profiles',
        sa.Column('id', _UUID, nullable=False),
        sa.Column('description', sa.String(length=1024), nullable=False),
        sa.Column('driver', sa.String(length=1024), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('metainfo', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_service_profiles')),
    )
    op.create_table(
        'flavor_profile_bindings',
        sa.Column('flavor_id', _UUID, nullable=False),
        sa.Column('service_profile_id', _UUID, nullable=False),
        _fk('flavor_profile_bindings', 'flavor_id', 'flavors'),
        _fk('flavor_profile_bindings', 'service_profile_id', 'service_profiles'),
        sa.PrimaryKeyConstraint('flavor_id', 'service_profile_id',
                                name=op.f('pk_flavor_profile_bindings')),
    )
    op.create_table(
        'router_extra_attributes',
        sa.Column('router_id', _UUID, nullable=False),
        sa.Column('availability_zone_hints', sa.String(length=255), nullable=True),
        sa.Column('distributed', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('flavor_id', _UUID, nullable=True),
        _fk('router_extra_attributes', 'router_id', 'routers'),
        _fk('router_extra_attributes', 'flavor_id', 'flavors', None),
        sa.PrimaryKeyConstraint('router_id', name=op.f('pk_router_extra_attributes')),
    )
    op.create_index(op.f('ix_router_extra_attributes_flavor_id'), 'router_extra_attributes',
                    ['flavor_id'])


def downgrade() -> None:
    for table in ('router_extra_attributes', 'flavor_profile_bindings', 'service_profiles', 'flavors',
                  'metering_label_rules', 'metering_labels', 'conntrack_helpers',
                  'portforwardings'):
        op.drop_table(table)
