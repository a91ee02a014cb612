"""RBAC policies (every object type in one table), address groups and their
addresses, the default security group rule templates (seeded with upstream's
four rules)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 19:30:00
"""
import uuid

from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rbac_policies',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('object_type', sa.String(length=32), nullable=False),
        sa.Column('object_id', sa.String(length=36), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('target_project', sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rbac_policies')),
        sa.UniqueConstraint('object_type', 'object_id', 'action', 'target_project',
                            name=op.f('uq_rbac_policies_object_type_object_id_action_'
                                      'target_project')),
    )
    op.create_index(op.f('ix_rbac_policies_project_id'), 'rbac_policies', ['project_id'])
    op.create_index('ix_rbac_policies_target', 'rbac_policies',
                    ['object_type', 'target_project'])
    # Networks already shared or external keep their audience: their
    # wildcard grants (the columns become caches of these rows).
    conn = op.get_bind()
    nets = sa.table('networks', sa.column('id'), sa.column('project_id'),
                    sa.column('shared'), sa.column('external'))
    rbac = sa.table('rbac_policies', *(sa.column(c) for c in (
        'id', 'project_id', 'object_type', 'object_id', 'action', 'target_project')))
    rows = []
    for nid, project, shared, external in conn.execute(
            sa.select(nets.c.id, nets.c.project_id, nets.c.shared, nets.c.external)
            .where(sa.or_(nets.c.shared == sa.true(), nets.c.external == sa.true()))):
        for flag, action in ((shared, 'access_as_shared'), (external, 'access_as_external')):
            if flag:
                rows.append({'id': str(uuid.uuid4()), 'project_id': project,
                             'object_type': 'network', 'object_id': nid, 'action': action,
                             'target_project': '*'})
    if rows:
        conn.execute(rbac.insert(), rows)
    op.create_table(
        'address_groups',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.String(length=255), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('revision_number', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_address_groups')),
    )
    op.create_index(op.f('ix_address_groups_project_id'), 'address_groups', ['project_id'])
    op.create_table(
        'address_group_addresses',
        sa.Column('address_group_id', sa.String(length=36), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['address_group_id'], ['address_groups.id'],
                                name=op.f('fk_address_group_addresses_address_group_id_'
                                          'address_groups'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('address_group_id', 'address',
                                name=op.f('pk_address_group_addresses')),
    )
    rules = op.create_table(
        'default_security_group_rules',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('direction', sa.String(length=16), nullable=False),
        sa.Column('ethertype', sa.String(length=8), nullable=False),
        sa.Column('protocol', sa.String(length=40), nullable=True),
        sa.Column('port_range_min', sa.Integer(), nullable=True),
        sa.Column('port_range_max', sa.Integer(), nullable=True),
        sa.Column('remote_ip_prefix', sa.String(length=64), nullable=True),
        sa.Column('remote_group_id', sa.String(length=36), nullable=True),
        sa.Column('remote_address_group_id', sa.String(length=36), nullable=True),
        sa.Column('description', sa.String(length=255), nullable=False),
        sa.Column('used_in_default_sg', sa.Boolean(), nullable=False),
        sa.Column('used_in_non_default_sg', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_default_security_group_rules')),
    )
    # What every group got before the templates existed: egress anywhere in
    # every group, ingress from members only in the default group.
    seed = []
    for ethertype in ('IPv4', 'IPv6'):
        seed.append(dict(direction='egress', remote_group_id=None, used_in_default_sg=True,
                         used_in_non_default_sg=True, ethertype=ethertype,
                         description='Legacy default SG rule for egress traffic'))
        seed.append(dict(direction='ingress', remote_group_id='PARENT',
                         used_in_default_sg=True, used_in_non_default_sg=False,
                         ethertype=ethertype,
                         description='Legacy default SG rule for ingress traffic'))
    op.bulk_insert(rules, [dict(r, id=str(uuid.uuid4()), protocol=None, port_range_min=None,
                                port_range_max=None, remote_ip_prefix=None,
                                remote_address_group_id=None)
                           for r in seed])


def downgrade() -> None:
    op.drop_table('default_security_group_rules')
    op.drop_table('address_group_addresses')
    op.drop_index(op.f('ix_address_groups_project_id'), table_name='address_groups')
    op.drop_table('address_groups')
    op.drop_index('ix_rbac_policies_target', table_name='rbac_policies')
    op.drop_index(op.f('ix_rbac_policies_project_id'), table_name='rbac_policies')
    op.drop_table('rbac_policies')
