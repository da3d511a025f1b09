"""The faces of Vivier: the `vivier` CLI now, the HTTP API later, and the wiring of the parts."""
