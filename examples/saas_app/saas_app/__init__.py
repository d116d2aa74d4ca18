"""A small SaaS backend: users, projects and deployments, Stripe billing, Brevo email, GitHub repos."""
