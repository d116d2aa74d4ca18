"""The app under test and its HTTP clients, authenticated with real signed JWTs. (Being built.)"""
