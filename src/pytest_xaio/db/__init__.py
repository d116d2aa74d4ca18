"""db room."""
