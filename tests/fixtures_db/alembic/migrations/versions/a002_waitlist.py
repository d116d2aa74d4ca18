"""waitlist"""

import sqlalchemy as sa
from alembic import op

revision = "a002"
down_revision = "a001"


def upgrade() -> None:
    op.create_table(
        "waitlist",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="waitlist_status_check"),
    )


def downgrade() -> None:
    op.drop_table("waitlist")
