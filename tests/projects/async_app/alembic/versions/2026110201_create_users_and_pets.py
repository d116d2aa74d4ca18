"""Create users and pets.

Revision ID: 2026110201
Revises:
Create Date: 2026-11-02 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "2026110201"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.execute('CREATE EXTENSION IF NOT EXISTS "pgcrypto"')
    op.create_table(
        "user_account",
        sa.Column("user_id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.String(length=256), nullable=False),
        sa.Column("hashed_password", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_index("ix_user_account_email", "user_account", ["email"], unique=True)
    op.create_table(
        "pet",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["user_account.user_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner_id", "name", name="uq_pet_owner_name"),
    )


def downgrade():
    op.drop_table("pet")
    op.drop_index("ix_user_account_email", table_name="user_account")
    op.drop_table("user_account")
