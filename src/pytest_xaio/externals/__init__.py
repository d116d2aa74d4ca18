"""externals room."""
