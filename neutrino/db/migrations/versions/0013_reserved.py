"""port forwarding, conntrack helpers, flavors, metering (helper l3x): reserved; its owner renames this file and fills it in

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 19:30:00
"""

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
