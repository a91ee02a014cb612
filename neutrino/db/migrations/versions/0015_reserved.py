"""segments, segment ranges, auto-allocated topology (helper seg): reserved; its owner renames this file and fills it in

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 19:30:00
"""

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
