"""Pure functions from data to plotly figures (no database, no Dash)."""
