"""Pure logic with no I/O and no pulumi: the catalog's models, naming, sizing, regions, markers, the
lifecycle's states, the stack specs and the resource facts. Everything else imports it; it imports
nothing else of the project.
"""
