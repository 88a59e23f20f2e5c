"""The Dash web app (public air-quality map, department maps, trackers) and its server routes."""
