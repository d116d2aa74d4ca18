"""pytest hooks and fixtures of the matrix room. (Being built.)"""
