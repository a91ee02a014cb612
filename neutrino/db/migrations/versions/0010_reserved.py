"""RBAC policies and address groups (helper rbac): reserved; its owner renames this file and fills it in

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 19:30:00
"""

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
