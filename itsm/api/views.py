# What a slug in an API path may be. Routing anything else away answers 404 before a lookup:
# PostgreSQL refuses some characters (NUL) in a text comparison, which would be a 500.
SLUG_PATTERN = r"[-\w]+"
