"""One module per resource; each exposes `router`, registered in api.app.ROUTERS."""
