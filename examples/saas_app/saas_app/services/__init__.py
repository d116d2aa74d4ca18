"""Business logic, kept out of the routers so it can be tested and reused."""
