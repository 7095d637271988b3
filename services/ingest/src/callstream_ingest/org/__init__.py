"""Organisation management (teams, reps, users and tokens) for admins."""
