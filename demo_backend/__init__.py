"""rehearse's bundled demo backend: a field-service B2B API (Starlette + SQLite) and its mobile web app."""
