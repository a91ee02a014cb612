"""address scopes and subnet pools (helper pools): reserved; its owner renames this file and fills it in

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 19:30:00
"""

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
