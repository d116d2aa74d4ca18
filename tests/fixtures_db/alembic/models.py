"""The app's models: what autogenerate compares the migrations against."""

import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("email", sa.Text, nullable=False, unique=True),
)

waitlist = sa.Table(
    "waitlist",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="waitlist_status_check"),
)
