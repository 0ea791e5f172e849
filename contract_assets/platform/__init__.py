"""Platform: the home, stored values, the records database, keys and protection, access, notifications."""
