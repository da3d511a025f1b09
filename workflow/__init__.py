"""The domain: tables, pipelines, the transition service, deadlines and reports."""
