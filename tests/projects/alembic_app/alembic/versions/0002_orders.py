"""create orders"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("state", sa.Enum("open", "paid", name="order_state"), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.CheckConstraint("quantity > 0", name="orders_quantity_positive"),
    )


def downgrade() -> None:
    op.drop_table("orders")
    sa.Enum(name="order_state").drop(op.get_bind())
