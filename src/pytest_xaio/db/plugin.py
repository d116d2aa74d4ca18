"""pytest hooks and fixtures of the db room. (Being built.)"""
