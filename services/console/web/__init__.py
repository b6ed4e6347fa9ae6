"""The console's web app: FastAPI routes and server-rendered Jinja2 pages (no client-side scripts)."""
