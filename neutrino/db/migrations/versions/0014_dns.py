"""DNS names and domains, extra DHCP options, network availability zone hints

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 19:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str):
    return sa.ForeignKeyConstraint([column], [f'{target}.id'], ondelete='CASCADE',
                                   name=op.f(f'fk_{table}_{column}_{target}'))


def upgrade() -> None:
    op.create_table(
        'port_dns',
        sa.Column('port_id', sa.String(length=36), nullable=False),
        sa.Column('dns_name', sa.String(length=255), nullable=False),
        sa.Column('dns_domain', sa.String(length=255), nullable=False),
        _fk('port_dns', 'port_id', 'ports'),
        sa.PrimaryKeyConstraint('port_id', name=op.f('pk_port_dns')),
    )
    op.create_table(
        'network_dns_domains',
        sa.Column('network_id', sa.String(length=36), nullable=False),
        sa.Column('dns_domain', sa.String(length=255), nullable=False),
        _fk('network_dns_domains', 'network_id', 'networks'),
        sa.PrimaryKeyConstraint('network_id', name=op.f('pk_network_dns_domains')),
    )
    op.create_table(
        'subnet_dns_publish_fixed_ips',
        sa.Column('subnet_id', sa.String(length=36), nullable=False),
        sa.Column('dns_publish_fixed_ip', sa.Boolean(), nullable=False),
        _fk('subnet_dns_publish_fixed_ips', 'subnet_id', 'subnets'),
        sa.PrimaryKeyConstraint('subnet_id', name=op.f('pk_subnet_dns_publish_fixed_ips')),
    )
    op.create_table(
        'extra_dhcp_opts',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('port_id', sa.String(length=36), nullable=False),
        sa.Column('opt_name', sa.String(length=64), nullable=False),
        sa.Column('opt_value', sa.String(length=255), nullable=False),
        sa.Column('ip_version', sa.Integer(), nullable=False),
        _fk('extra_dhcp_opts', 'port_id', 'ports'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_extra_dhcp_opts')),
        sa.UniqueConstraint('port_id', 'opt_name', 'ip_version',
                            name=op.f('uq_extra_dhcp_opts_port_id_opt_name_ip_version')),
    )
    op.create_index(op.f('ix_extra_dhcp_opts_port_id'), 'extra_dhcp_opts', ['port_id'])
    op.create_table(
        'network_az_hints',
        sa.Column('network_id', sa.String(length=36), nullable=False),
        sa.Column('hints', sa.String(length=255), nullable=False),
        _fk('network_az_hints', 'network_id', 'networks'),
        sa.PrimaryKeyConstraint('network_id', name=op.f('pk_network_az_hints')),
    )


def downgrade() -> None:
    op.drop_table('network_az_hints')
    op.drop_index(op.f('ix_extra_dhcp_opts_port_id'), table_name='extra_dhcp_opts')
    op.drop_table('extra_dhcp_opts')
    op.drop_table('subnet_dns_publish_fixed_ips')
    op.drop_table('network_dns_domains')
    op.drop_table('port_dns')
