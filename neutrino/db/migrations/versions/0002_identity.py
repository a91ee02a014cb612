"""embedded identity: domains, projects, users, roles, assignments, revocations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 15:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'identity_domains',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_domains')),
        sa.UniqueConstraint('name', name=op.f('uq_identity_domains_name')),
    )
    op.create_table(
        'identity_roles',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_roles')),
        sa.UniqueConstraint('name', name=op.f('uq_identity_roles_name')),
    )
    op.create_table(
        'identity_projects',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('domain_id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['domain_id'], ['identity_domains.id'],
                                name=op.f('fk_identity_projects_domain_id_identity_domains')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_projects')),
        sa.UniqueConstraint('domain_id', 'name', name=op.f('uq_identity_projects_domain_id_name')),
    )
    op.create_table(
        'identity_users',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('domain_id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('password_hash', sa.Text(), nullable=True),
        sa.Column('email', sa.String(length=255), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('default_project_id', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('password_changed_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['domain_id'], ['identity_domains.id'],
                                name=op.f('fk_identity_users_domain_id_identity_domains')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_users')),
        sa.UniqueConstraint('domain_id', 'name', name=op.f('uq_identity_users_domain_id_name')),
    )
    op.create_table(
        'identity_implied_roles',
        sa.Column('prior_role_id', sa.String(length=64), nullable=False),
        sa.Column('implied_role_id', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['prior_role_id'], ['identity_roles.id'], ondelete='CASCADE',
                                name=op.f('fk_identity_implied_roles_prior_role_id_identity_roles')),
        sa.ForeignKeyConstraint(['implied_role_id'], ['identity_roles.id'], ondelete='CASCADE',
                                name=op.f('fk_identity_implied_roles_implied_role_id_identity_roles')),
        sa.PrimaryKeyConstraint('prior_role_id', 'implied_role_id',
                                name=op.f('pk_identity_implied_roles')),
    )
    op.create_table(
        'identity_assignments',
        sa.Column('user_id', sa.String(length=64), nullable=False),
        sa.Column('target_type', sa.String(length=16), nullable=False),
        sa.Column('target_id', sa.String(length=64), nullable=False),
        sa.Column('role_id', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['identity_users.id'], ondelete='CASCADE',
                                name=op.f('fk_identity_assignments_user_id_identity_users')),
        sa.ForeignKeyConstraint(['role_id'], ['identity_roles.id'], ondelete='CASCADE',
                                name=op.f('fk_identity_assignments_role_id_identity_roles')),
        sa.PrimaryKeyConstraint('user_id', 'target_type', 'target_id', 'role_id',
                                name=op.f('pk_identity_assignments')),
    )
    with op.batch_alter_table('identity_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_assignments_target_id'), ['target_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_identity_assignments_role_id'), ['role_id'],
                              unique=False)
    op.create_table(
        'identity_revocations',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('audit_id', sa.String(length=64), nullable=True),
        sa.Column('user_id', sa.String(length=64), nullable=True),
        sa.Column('project_id', sa.String(length=64), nullable=True),
        sa.Column('issued_before_us', sa.BigInteger(), nullable=False),
        sa.Column('revoked_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_revocations')),
    )
    with op.batch_alter_table('identity_revocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_revocations_audit_id'), ['audit_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_identity_revocations_revoked_at'), ['revoked_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('identity_revocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_revocations_revoked_at'))
        batch_op.drop_index(batch_op.f('ix_identity_revocations_audit_id'))
    op.drop_table('identity_revocations')
    with op.batch_alter_table('identity_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_assignments_role_id'))
        batch_op.drop_index(batch_op.f('ix_identity_assignments_target_id'))
    op.drop_table('identity_assignments')
    op.drop_table('identity_implied_roles')
    op.drop_table('identity_users')
    op.drop_table('identity_projects')
    op.drop_table('identity_roles')
    op.drop_table('identity_domains')
