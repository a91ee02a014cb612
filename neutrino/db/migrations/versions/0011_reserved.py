"""QoS policies and rules (helper qos): reserved; its owner renames this file and fills it in

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 19:30:00
"""

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
