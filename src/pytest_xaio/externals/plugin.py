"""pytest hooks and fixtures of the externals room. (Being built.)"""
